"""A write through one process is seen by the very next read through another (shared Redis)."""

from __future__ import annotations

import pytest
import requests

from tests.support.live import app_env, live_server
from tests.support.load import user_and_post
from tests.support.services import REDIS_URL, redis_or_skip


@pytest.mark.server
def test_invalidation_crosses_processes(sqlite_url, redis_prefix):
    redis_or_skip()
    env = app_env(sqlite_url, APP_REDIS__URL=REDIS_URL, APP_REDIS__KEY_PREFIX=redis_prefix)
    with live_server(env) as one, live_server(env) as two:
        auth, post_id = user_and_post(one)
        path = f"/api/v1/posts/{post_id}"
        assert requests.get(two + path, timeout=5).headers["X-Cache"] == "MISS"
        assert requests.get(two + path, timeout=5).headers["X-Cache"] == "HIT"
        assert requests.get(two + "/api/v1/posts", timeout=5).json()["items"][0]["title"] == "Under load"

        assert requests.patch(one + path, json={"title": "v2"}, headers=auth, timeout=10).status_code == 200
        assert requests.get(two + path, timeout=5).json()["title"] == "v2"
        assert requests.get(two + "/api/v1/posts", timeout=5).json()["items"][0]["title"] == "v2"

        comment = requests.post(one + path + "/comments", json={"content": "hi"}, headers=auth, timeout=10)
        assert comment.status_code == 201
        assert requests.get(two + path, timeout=5).json()["comment_count"] == 1

        assert requests.delete(one + path, headers=auth, timeout=10).status_code == 204
        assert requests.get(two + path, timeout=5).status_code == 404
        assert requests.get(two + "/api/v1/posts", timeout=5).json()["total"] == 0
