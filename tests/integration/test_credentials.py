"""Remembered callers (web/credentials.py): no SQL for a cached authenticated GET, and no revoked
credential ever let back in, across processes sharing one Redis, or after Redis loses the version."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from sqlalchemy import update

from models import ApiKey
from tests.api.test_query_counts import count_queries
from tests.support.http import Api, assert_problem
from tests.support.services import REDIS_URL


def two_processes(redis_app: Any, **overrides: Any) -> tuple[Api, Api]:
    """Two apps on one database and one Redis: what two workers (or hosts) are."""
    first, second = redis_app(**overrides), redis_app(**overrides)
    return Api(first.test_client(), first), Api(second.test_client(), second)


@pytest.mark.parametrize("limits", [True, False], ids=["limits-on", "limits-off"])
def test_a_cached_authenticated_get_runs_no_sql(redis_app: Any, limits: bool) -> None:
    app = redis_app(rate_limit={"enabled": limits, "authenticated": "1000/minute"})
    api = Api(app.test_client(), app)
    bearer = api.user("reader")
    key = api.key(bearer, ["read"])
    post = api.post(bearer, status="published")
    for credential in (bearer, key):
        api.client.get(f"/api/v1/posts/{post['id']}", headers=credential)  # remembered, cached
        with count_queries(app) as statements:
            response = api.client.get(f"/api/v1/posts/{post['id']}", headers=credential)
        assert response.status_code == 200
        assert response.headers["X-Cache"] == "HIT"
        assert statements == []


def test_a_revoked_key_stops_at_once_in_every_process(redis_app: Any) -> None:
    a, b = two_processes(redis_app)
    owner = a.user("owner")
    key = a.key(owner, ["read", "keys:write"])
    assert a.client.get("/api/v1/me", headers=key).status_code == 200  # a remembers it
    assert b.client.get("/api/v1/me", headers=key).status_code == 200  # b too
    key_id = a.client.get("/api/v1/api-keys", headers=owner).get_json()["items"][0]["id"]
    assert b.client.delete(f"/api/v1/api-keys/{key_id}", headers=owner).status_code == 204
    assert_problem(a.client.get("/api/v1/me", headers=key), 401)


def test_logout_role_change_and_refresh_reuse_reach_every_process(redis_app: Any) -> None:
    a, b = two_processes(redis_app)
    admin = a.user("root", admin=True)
    pair = a.login("root")
    bearer = {"Authorization": f"Bearer {pair['access_token']}"}
    assert a.client.get("/api/v1/me", headers=bearer).status_code == 200
    # A refresh token presented twice revokes its login (and answers 401): a must hear of it.
    spent = {"refresh_token": pair["refresh_token"]}
    assert b.client.post("/api/v1/auth/refresh", json=spent).status_code == 200
    assert_problem(b.client.post("/api/v1/auth/refresh", json=spent), 401)
    assert_problem(a.client.get("/api/v1/me", headers=bearer), 401)

    # A demoted admin's remembered role goes too.
    plain = a.user("plain")
    plain_id = a.client.get("/api/v1/me", headers=plain).get_json()["id"]
    a.promote(plain_id)
    b.client.patch(f"/api/v1/users/{plain_id}", json={"role": "admin"}, headers=admin)
    demoted = a.login("plain")
    as_plain = {"Authorization": f"Bearer {demoted['access_token']}"}
    assert (
        a.client.post("/api/v1/items", json={"name": "x", "price": "1.00"}, headers=as_plain).status_code
        == 201
    )
    assert (
        b.client.patch(f"/api/v1/users/{plain_id}", json={"role": "user"}, headers=admin).status_code == 200
    )
    assert_problem(a.client.post("/api/v1/items", json={"name": "y", "price": "1.00"}, headers=as_plain), 403)

    # Logout in one process ends the token in the other.
    assert a.client.get("/api/v1/me", headers=as_plain).status_code == 200
    assert b.client.post("/api/v1/auth/logout", headers=as_plain).status_code == 204
    assert_problem(a.client.get("/api/v1/me", headers=as_plain), 401)


def test_a_lost_version_never_lets_a_revoked_key_back_in(redis_app: Any, redis_prefix: str) -> None:
    """A revocation whose bump was lost (Redis restarted empty, or failed over) must still hold."""
    app = redis_app()
    api = Api(app.test_client(), app)
    owner = api.user("owner")
    key = api.key(owner, ["read"])
    assert api.client.get("/api/v1/me", headers=key).status_code == 200  # remembered
    # The database revokes the key, but no bump reaches Redis; then Redis loses the version.
    with app.extensions["inkwell"].db.session(write=True) as session:
        session.execute(update(ApiKey).values(revoked_at=ApiKey.created_at))
        session.commit()
    redis.Redis.from_url(REDIS_URL).delete(f"{redis_prefix}:cache:{{auth}}:v")
    assert_problem(api.client.get("/api/v1/me", headers=key), 401)


def test_redis_unreadable_means_the_database_decides(redis_app: Any) -> None:
    app = redis_app()
    api = Api(app.test_client(), app)
    bearer = api.user("reader")
    assert api.client.get("/api/v1/me", headers=bearer).status_code == 200
    app.pipeline.cache.breaker.trip()  # as after a Redis error
    with count_queries(app) as statements:
        assert api.client.get("/api/v1/me", headers=bearer).status_code == 200
    # The bearer was checked against the denylist again: the remembered caller was not trusted.
    assert any("revoked_access_tokens" in statement for statement in statements), statements


def test_with_the_response_cache_off_callers_are_still_remembered_and_revoked(redis_app: Any) -> None:
    """Namespace versions do not depend on the response cache (web/versions.py): with it off, a
    remembered key is not looked up again, and its revocation still reaches every process."""
    a, b = two_processes(redis_app, cache={"enabled": False})
    owner = a.user("owner")
    key = a.key(owner, ["read", "keys:write"])
    post = a.post(owner, status="published")
    assert a.client.get(f"/api/v1/posts/{post['id']}", headers=key).status_code == 200  # remembered
    with count_queries(a.app) as statements:
        assert a.client.get(f"/api/v1/posts/{post['id']}", headers=key).status_code == 200
    assert statements and not any("api_keys" in sql for sql in statements)
    key_id = a.client.get("/api/v1/api-keys", headers=owner).get_json()["items"][0]["id"]
    assert b.client.delete(f"/api/v1/api-keys/{key_id}", headers=owner).status_code == 204
    assert_problem(a.client.get(f"/api/v1/posts/{post['id']}", headers=key), 401)
