"""Rate limits with Flask-Limiter: per API key, else per user, else per client address.

Strategy: fixed window. One atomic Lua call (INCRBY, and PEXPIRE when the window is new) both
admits and counts, so N allowed means exactly N admitted under any concurrency across processes,
and it costs one Redis round trip per request at any limit size. A moving window is exact too
but keeps one sorted-set entry per hit (6000/minute = 6000 entries per key, O(log n) each); the
sliding-window counter is an approximation. The price of the fixed window is a possible burst of
2N across a window boundary, which we accept for exactness and cost.

The same script returns the window's remaining time, so every header below is computed from
that one call (Flask-Limiter's own headers would ask Redis twice more per request).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from limits import RateLimitItem
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter, WindowStats

from core.settings import Settings
from resources.ops import UNLIMITED_ENDPOINTS

log = logging.getLogger("inkwell.limits")


# KEYS[1] is the counter; any further KEYS are read back (the response cache's entry and
# namespace version, see resources/cache.py plan()), so a cached GET costs one round trip in all.
# Flask-Limiter scopes of login's own limits (per address, per username).
LOGIN_SCOPES = ("login-addr", "login-user")

INCR_WITH_TTL = """
local current = redis.call('incrby', KEYS[1], ARGV[2])
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
    redis.call('pexpire', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
local out = {current, ttl}
for i = 2, #KEYS do
    out[i + 1] = redis.call('get', KEYS[i])
end
return out
"""


class CountingFixedWindow(FixedWindowRateLimiter):
    """Fixed window whose hit also records (count, reset) for this request's headers."""

    _script: Any = None

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        key = item.key_for(*identifiers)
        if isinstance(self.storage, RedisStorage):
            if self._script is None:
                self._script = self.storage.get_connection().register_script(INCR_WITH_TTL)
            prefetch = g.pop("cache_prefetch", None) or []
            count, ttl_ms, *fetched = self._script(
                [self.storage.prefixed_key(key), *prefetch], [item.get_expiry() * 1000, cost]
            )
            if prefetch:
                g.cache_prefetched = fetched  # a missing key reads as false in Lua: None here
            reset = time.time() + int(ttl_ms) / 1000
        else:
            count = self.storage.incr(key, item.get_expiry(), amount=cost)
            reset = self.storage.get_expiry(key) if isinstance(self.storage, MemoryStorage) else 0.0
        windows = g.setdefault("rate_windows", {})
        windows[key] = WindowStats(reset, max(0, item.amount - int(count)))
        return int(count) <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        seen = g.get("rate_windows", {}).get(item.key_for(*identifiers))
        return seen if seen is not None else super().get_window_stats(item, *identifiers)


STRATEGIES.setdefault("inkwell-fixed-window", CountingFixedWindow)  # type: ignore[arg-type]


def identity() -> str:
    """Who a limit (and an idempotency key) belongs to: the API key, else the user, else the address."""
    actor = g.get("actor")
    if actor is not None:
        return f"key:{actor.key_id}" if actor.key_id is not None else f"user:{actor.user_id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def build(app: Flask, settings: Settings, redis_client: Any) -> Limiter | None:
    """The limiter, or None when rate_limit.enabled is false."""
    config = settings.rate_limit
    if not config.enabled:
        return None

    def default_limit() -> str:
        actor = g.get("actor")
        if actor is None:
            return config.anonymous
        if actor.key_id is not None:
            return config.tiers.get(actor.tier or "standard", config.authenticated)
        return config.authenticated

    storage: dict[str, Any] = {}
    if redis_client is not None:
        # Its own prefix, apart from the cache's; the shared pool keeps the short timeouts.
        storage = {
            "storage_uri": settings.redis.url,
            "storage_options": {
                "connection_pool": redis_client.connection_pool,
                "key_prefix": f"{settings.redis.key_prefix}:rl",
            },
        }
    limiter = Limiter(
        identity,
        # One budget per identity across every route (default_limits would be per route).
        application_limits=[default_limit],
        # An empty limit ("unlimited" tier) exempts the caller.
        application_limits_exempt_when=lambda: not default_limit(),
        strategy="inkwell-fixed-window",
        storage_uri=storage.get("storage_uri", "memory://"),
        storage_options=storage.get("storage_options", {}),
        # Redis down: per-process counters; Flask-Limiter probes Redis again with backoff.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        headers_enabled=False,  # ours below, from the one call
    )
    # Operations endpoints are never limited (load balancers and scrapers poll them).
    # CORS preflights are not counted either: a throttled preflight would break the real call.
    limiter.request_filter(lambda: request.endpoint in UNLIMITED_ENDPOINTS or request.method == "OPTIONS")
    limiter.init_app(app)

    def by_username() -> str:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
        return f"login:{name.strip().lower()}" if isinstance(name, str) and name.strip() else identity()

    # Login: its own stricter limits, per address and per username (guessing one account's password
    # from many addresses is stopped too), on top of the caller's overall budget.
    login = app.view_functions["login"]
    login = limiter.limit(
        config.login, key_func=lambda: f"addr:{request.remote_addr}", scope=LOGIN_SCOPES[0]
    )(login)
    app.view_functions["login"] = limiter.limit(config.login, key_func=by_username, scope=LOGIN_SCOPES[1])(
        login
    )

    app.after_request(lambda response: _headers(limiter, response))
    return limiter


def _headers(limiter: Limiter, response: Response) -> Response:
    current = limiter.current_limit
    if current is None:
        return response
    try:
        reset_at, remaining = current.window
    except Exception:
        return response
    amount = current.limit.amount
    window = current.limit.get_expiry()
    seconds_left = max(0, int(reset_at - time.time() + 0.999))
    response.headers["X-RateLimit-Limit"] = str(amount)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(int(reset_at + 0.999))
    # The policy reported is the one closest to refusing; login's own limits carry their name.
    policy = "login" if any(str(arg).endswith(LOGIN_SCOPES) for arg in current.request_args) else "default"
    response.headers["RateLimit-Policy"] = f'"{policy}";q={amount};w={window}'
    response.headers["RateLimit"] = f'"{policy}";r={remaining};t={seconds_left}'
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, seconds_left))
        response.headers["Cache-Control"] = "no-store"
    return response
