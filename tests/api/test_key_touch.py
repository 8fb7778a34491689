"""A write request with an API key records its use without waiting on its own write lock."""

from __future__ import annotations

import time

from sqlalchemy import select

from models import ApiKey


def test_first_write_with_a_key_is_fast_and_records_last_used(api) -> None:
    key = api.key(api.user("writer"), ["read", "posts:write"])
    started = time.perf_counter()
    response = api.client.post("/api/v1/posts", json={"title": "T", "content": "C"}, headers=key)
    assert response.status_code == 201, response.get_json()
    assert time.perf_counter() - started < 2  # it used to wait busy_timeout (10 s), then 503
    with api.app.extensions["inkwell"].db.session(write=False) as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() is not None
