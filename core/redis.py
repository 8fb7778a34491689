"""The shared Redis client (or None when redis.url is empty: in-process cache and limits)."""

from __future__ import annotations

from redis import Redis

from core.settings import Settings


def make_redis(settings: Settings) -> Redis | None:
    if not settings.redis.url:
        return None
    timeout = settings.redis.socket_timeout_seconds
    # Short timeouts so a dead Redis costs milliseconds per request, never a hung worker.
    return Redis.from_url(
        settings.redis.url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )
