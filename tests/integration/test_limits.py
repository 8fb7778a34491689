"""Rate limits: headers, identities, tiers, login, and exact counting across worker processes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.http import Api, assert_problem
from tests.support.live import app_env, live_server
from tests.support.services import REDIS_URL, redis_or_skip


def limited(redis_app, **limits):
    app = redis_app(rate_limit={"enabled": True, **limits})
    return Api(app.test_client(), app)


def test_headers_count_down_then_429(redis_app):
    api = limited(redis_app, anonymous="3/minute")
    seen = []
    for _ in range(3):
        response = api.client.get("/api/v1/items")
        assert response.status_code == 200
        seen.append(int(response.headers["X-RateLimit-Remaining"]))
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["RateLimit-Policy"] == '"default";q=3;w=60'
        reset = int(response.headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 61
        assert response.headers["RateLimit"].startswith(f'"default";r={seen[-1]};t=')
    assert seen == [2, 1, 0]
    refused = api.client.get("/api/v1/items")
    body = assert_problem(refused, 429)
    assert "rate limit" in body["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    # Operations endpoints are never limited.
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/readyz").status_code == 200


def test_users_and_keys_have_their_own_buckets_and_tiers(redis_app):
    api = limited(
        redis_app,
        anonymous="2/minute",
        authenticated="5/minute",
        login="100/minute",
        tiers={"standard": "4/minute", "elevated": "6/minute", "unlimited": ""},
    )
    user = api.user("alice", admin=True)  # register + login: the address's 2
    assert_problem(api.client.get("/api/v1/items"), 429)
    response = api.client.get("/api/v1/items", headers=user)
    assert response.headers["X-RateLimit-Limit"] == "5"
    standard = api.key(user, ["read"])
    assert api.client.get("/api/v1/items", headers=standard).headers["X-RateLimit-Limit"] == "4"

    created = api.client.post("/api/v1/api-keys", json={"name": "u", "scopes": ["read"]}, headers=user)
    unlimited = {"X-API-Key": created.get_json()["key"]}
    patched = api.client.patch(
        f"/api/v1/api-keys/{created.get_json()['id']}", json={"tier": "unlimited"}, headers=user
    )
    assert patched.status_code == 200, patched.get_json()
    for _ in range(10):
        response = api.client.get("/api/v1/items", headers=unlimited)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
    assert [api.client.get("/api/v1/items", headers=standard).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]


def test_login_limited_per_address_and_per_username(redis_app):
    api = limited(redis_app, login="3/minute", anonymous="100/minute")
    api.register("alice")
    bad = {"username": "alice", "password": "wrong-password"}
    for _ in range(3):
        assert api.client.post("/api/v1/auth/login", json=bad).status_code == 401
    refused = api.client.post("/api/v1/auth/login", json=bad)
    assert_problem(refused, 429)
    assert refused.headers["RateLimit-Policy"] == '"login";q=3;w=60'
    # Another address still cannot guess alice's password: the username has its own bucket.
    other = {"REMOTE_ADDR": "10.9.9.9"}
    assert_problem(api.client.post("/api/v1/auth/login", json=bad, environ_base=other), 429)
    # ...but it may log in as someone else.
    api.register("bob")
    ok = api.client.post(
        "/api/v1/auth/login", json={"username": "bob", "password": "wrong-password"}, environ_base=other
    )
    assert ok.status_code == 401


def test_disabled_means_no_limits_and_no_headers(redis_app):
    api = limited(redis_app, anonymous="1/minute")
    app = redis_app(rate_limit={"enabled": False, "anonymous": "1/minute"})
    client = app.test_client()
    for _ in range(3):
        response = client.get("/api/v1/items")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
    assert api  # the limited app is unaffected by the other's settings


def _burst(url: str, n: int, headers: dict[str, str] | None = None) -> list[int]:
    def one(_: int) -> int:
        # A fresh connection per request, so the kernel spreads them over both workers.
        return requests.get(url, headers={"Connection": "close", **(headers or {})}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(one, range(n)))


@pytest.mark.server
def test_exact_under_concurrency_across_two_workers(sqlite_url, redis_prefix):
    redis_or_skip()
    env = app_env(
        sqlite_url,
        APP_REDIS__URL=REDIS_URL,
        APP_REDIS__KEY_PREFIX=redis_prefix,
        APP_RATE_LIMIT__ENABLED="true",
        APP_RATE_LIMIT__ANONYMOUS="50/minute",
    )
    with live_server(env, workers=2) as base:
        statuses = _burst(f"{base}/healthz", 20)  # never limited
        assert statuses == [200] * 20
        statuses = _burst(f"{base}/api/v1/items", 200)
        assert statuses.count(200) == 50, statuses
        assert statuses.count(429) == 150
        # X-Forwarded-For is not trusted by default: a spoofed address shares the same bucket.
        spoofed = requests.get(f"{base}/api/v1/items", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=5)
        assert spoofed.status_code == 429


@pytest.mark.server
def test_forwarded_for_honoured_behind_a_trusted_proxy(sqlite_url, redis_prefix):
    redis_or_skip()
    env = app_env(
        sqlite_url,
        APP_REDIS__URL=REDIS_URL,
        APP_REDIS__KEY_PREFIX=redis_prefix,
        APP_RATE_LIMIT__ENABLED="true",
        APP_RATE_LIMIT__ANONYMOUS="5/minute",
        APP_SERVER__TRUSTED_PROXY_COUNT="1",
    )
    with live_server(env, workers=1) as base:
        one = _burst(f"{base}/api/v1/items", 8, {"X-Forwarded-For": "203.0.113.1"})
        two = _burst(f"{base}/api/v1/items", 8, {"X-Forwarded-For": "203.0.113.2"})
        assert one.count(200) == 5
        assert two.count(200) == 5


def test_a_forgotten_script_and_a_dropped_connection_cost_no_fallback(redis_app, caplog):
    """The limiter sends its script straight on the server thread's own connection: a Redis that
    forgot the script (restarted, SCRIPT FLUSH) or closed the connection is handled there, as
    redis-py's client would (reconnect and retry once, load the script again), so the request is
    still counted in Redis, not in this process after a breaker trip."""
    import redis

    api = limited(redis_app, anonymous="5/minute")
    remote = api.app.pipeline.limits.remote
    breaker = api.app.pipeline.limits.breaker
    assert api.client.get("/api/v1/items").headers["X-RateLimit-Remaining"] == "4"

    admin = redis.Redis.from_url(REDIS_URL)
    admin.script_flush()
    assert api.client.get("/api/v1/items").headers["X-RateLimit-Remaining"] == "3"

    own = remote.trip.direct.own()
    own.send_command("CLIENT", "ID")
    admin.client_kill_filter(_id=own.read_response())
    assert api.client.get("/api/v1/items").headers["X-RateLimit-Remaining"] == "2"

    own.send_command("CLIENT", "ID")
    admin.client_kill_filter(_id=own.read_response())
    admin.script_flush()  # both at once: reconnect, then load the script again
    assert api.client.get("/api/v1/items").headers["X-RateLimit-Remaining"] == "1"
    assert breaker.trips == 0
    assert "rate-limit storage failed" not in caplog.text
