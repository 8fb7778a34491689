"""redis.url picks the topology: the Sentinel client's service, database and sentinels; bad URLs."""

from __future__ import annotations

from typing import Any

import pytest
from redis.connection import SSLConnection
from redis.sentinel import SentinelConnectionPool

from core.redis import make_redis
from core.settings import Settings


def client_for(url: str) -> Any:
    return make_redis(Settings(env="test", redis={"url": url}))


def test_sentinel_url_names_the_sentinels_the_service_and_the_database() -> None:
    client = client_for("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380/inkwell/2")
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "inkwell"
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "s3cret"
    sentinels = [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
                 for s in pool.sentinel_manager.sentinels]  # fmt: skip
    assert sentinels == [("10.0.0.1", 26379), ("10.0.0.2", 26380)]
    # The sentinels are asked without the data nodes' password, with the same short timeouts, and
    # without redis-py's default retries (seconds per dead sentinel).
    for sentinel in pool.sentinel_manager.sentinels:
        kwargs = sentinel.connection_pool.connection_kwargs
        assert kwargs.get("password") is None
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.25
        assert kwargs["retry"].get_retries() == 1


def test_rediss_is_tls_with_the_short_timeouts() -> None:
    client = client_for("rediss://cache.internal:6380/1")
    assert client.connection_pool.connection_class is SSLConnection
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.internal", 6380, 1)
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.25


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://10.0.0.1:26379",  # no service name
        "redis+sentinel://10.0.0.1/inkwell",  # no port
        "redis+cluster://10.0.0.1:7000/1",  # a cluster has database 0 only
        "memcached://10.0.0.1:11211",
    ],
)
def test_bad_urls_stop_the_start(url: str) -> None:
    with pytest.raises(ValueError):
        client_for(url)
