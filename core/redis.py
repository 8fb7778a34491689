"""The shared Redis client (or None when redis.url is empty: in-process cache and limits)."""

from __future__ import annotations

import time

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


class Breaker:
    """A tiny circuit breaker: after a Redis failure, skip Redis for `cooldown` seconds.

    A dead Redis then costs one timed-out call per cooldown per process instead of one per
    request; the first call after the cooldown is the probe, and success closes it again.
    """

    def __init__(self, cooldown: float = 1.5) -> None:
        self.cooldown = cooldown
        self._open_until = 0.0

    def allow(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        self._open_until = time.monotonic() + self.cooldown
