"""Idempotency-Key on POST: replay, mismatch, in-flight conflict; Redis and database stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, func, select

from models import Post
from tests.support.http import PASSWORD, Api, assert_problem
from tests.support.live import app_env, live_server
from tests.support.services import REDIS_URL, redis_or_skip


@pytest.fixture(params=["redis", "database"])
def iapi(request, redis_app, make_app):
    app = redis_app() if request.param == "redis" else make_app()
    return Api(app.test_client(), app)


def count_posts(api: Api) -> int:
    with api.app.extensions["inkwell"].db.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Post))


def test_replay_returns_the_first_response(iapi):
    author = iapi.user("alice")
    headers = {**author, "Idempotency-Key": "create-1"}
    first = iapi.client.post("/api/v1/posts", json={"title": "T", "content": "C"}, headers=headers)
    again = iapi.client.post("/api/v1/posts", json={"content": "C", "title": "T"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count_posts(iapi) == 1
    # Another caller's same key is theirs alone.
    bob = iapi.user("bob")
    other = iapi.client.post(
        "/api/v1/posts", json={"title": "T", "content": "C"}, headers={**bob, "Idempotency-Key": "create-1"}
    )
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert count_posts(iapi) == 2


def test_same_key_different_body_is_422(iapi):
    author = iapi.user("alice")
    headers = {**author, "Idempotency-Key": "k"}
    assert (
        iapi.client.post("/api/v1/posts", json={"title": "A", "content": "C"}, headers=headers).status_code
        == 201
    )
    body = assert_problem(
        iapi.client.post("/api/v1/posts", json={"title": "B", "content": "C"}, headers=headers), 422
    )
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]


def test_key_length_is_checked(iapi):
    author = iapi.user("alice")
    for key in ("", "x" * 256):
        body = assert_problem(
            iapi.client.post(
                "/api/v1/posts",
                json={"title": "A", "content": "C"},
                headers={**author, "Idempotency-Key": key},
            ),
            422,
        )
        assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert count_posts(iapi) == 0


def test_failures_are_not_stored(iapi):
    author = iapi.user("alice")
    headers = {**author, "Idempotency-Key": "retry-me"}
    assert_problem(iapi.client.post("/api/v1/posts", json={"title": ""}, headers=headers), 422)
    # The failed attempt released the key: a corrected request runs.
    fixed = iapi.client.post("/api/v1/posts", json={"title": "ok", "content": "C"}, headers=headers)
    assert fixed.status_code == 201


def test_in_flight_duplicate_is_409(iapi):
    """A reservation held by a running request (simulated) answers 409."""
    from core.idempotency import DatabaseStore, RedisStore

    author = iapi.user("alice")
    headers = {**author, "Idempotency-Key": "slow"}
    body = {"title": "A", "content": "C"}
    stores = []

    original_db, original_redis = DatabaseStore.complete, RedisStore.complete

    def hold(self, scope, fingerprint, saved):  # the first request "is still running" inside
        stores.append(iapi.client.post("/api/v1/posts", json=body, headers=headers))
        return (original_db if isinstance(self, DatabaseStore) else original_redis)(
            self, scope, fingerprint, saved
        )

    DatabaseStore.complete, RedisStore.complete = hold, hold
    try:
        first = iapi.client.post("/api/v1/posts", json=body, headers=headers)
    finally:
        DatabaseStore.complete, RedisStore.complete = original_db, original_redis
    assert first.status_code == 201
    assert_problem(stores[0], 409)
    assert count_posts(iapi) == 1


@pytest.mark.server
@pytest.mark.parametrize("store", ["redis", "database"])
def test_twenty_parallel_posts_make_one_row(database_url, redis_prefix, store):
    redis_or_skip()
    env = app_env(database_url, APP_REDIS__KEY_PREFIX=redis_prefix)
    if store == "redis":
        env["APP_REDIS__URL"] = REDIS_URL
    with live_server(env, workers=2) as base:
        name = f"par{store[:2]}"
        requests.post(
            f"{base}/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            timeout=10,
        ).raise_for_status()
        token = requests.post(
            f"{base}/api/v1/auth/login", json={"username": name, "password": PASSWORD}, timeout=10
        ).json()["access_token"]
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": f"one-{store}",
            "Connection": "close",
        }

        def one(_: int) -> requests.Response:
            return requests.post(
                f"{base}/api/v1/posts",
                json={"title": f"Once {store}", "content": "C"},
                headers=headers,
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(one, range(20)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = {r.headers["Location"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    engine = create_engine(database_url)
    with engine.connect() as conn:
        titles = conn.execute(select(Post.title).where(Post.title == f"Once {store}")).all()
    engine.dispose()
    assert len(titles) == 1
