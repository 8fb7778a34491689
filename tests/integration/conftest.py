"""Redis-backed apps for the integration tests: each test gets its own key prefix, cleaned after."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from tests.support.http import Api
from tests.support.services import REDIS_URL, redis_or_skip


def delete_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Our own keys only: the Redis is shared, so never FLUSHDB."""
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    redis_or_skip()
    prefix = f"inkwell-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    delete_prefix(prefix)


@pytest.fixture
def redis_app(make_app: Callable[..., Flask], redis_prefix: str) -> Callable[..., Flask]:
    """make_app with the real Redis under this test's prefix."""

    def build(**overrides: Any) -> Flask:
        overrides.setdefault("redis", {})
        overrides["redis"] = {"url": REDIS_URL, "key_prefix": redis_prefix, **overrides["redis"]}
        return make_app(**overrides)

    return build


@pytest.fixture
def rapi(redis_app: Callable[..., Flask]) -> Api:
    app = redis_app()
    return Api(app.test_client(), app)
