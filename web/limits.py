"""Pipeline step 3: rate limits, per API key, else per user, else per client address.

Flask-Limiter builds the storage and the strategy from configuration (`rate_limit.*`, the Redis
URL). The pipeline then calls that strategy itself, at one fixed place, instead of letting
Flask-Limiter's before_request hook evaluate every registered limit (~100 us a request, and its
position would depend on hook registration order). What each operation adds to the caller's
budget is declared on it (`@operation(limits=("login",))`).

Strategy: fixed window. One atomic Lua call (INCRBY, and PEXPIRE when the window is new) both
admits and counts, so N allowed means exactly N admitted under any concurrency across processes,
at one Redis round trip per request. The same call returns the window's remaining time (for the
headers) and reads the response cache's keys (a cached GET costs one round trip in all). The
price of the fixed window is a possible burst of 2N across a window boundary.

Failure: a Redis error trips a breaker and the request is counted in per-process memory instead;
an error never admits a request uncounted. The breaker probes Redis again after its cooldown.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter

from core.redis import Breaker
from core.settings import Settings
from schemas.auth import LoginIn
from services import auth
from web.context import RateWindow, RequestState, uow
from web.errors import RateLimited

log = logging.getLogger("inkwell.limits")

# KEYS[1] is the counter; any further KEYS are read back in the same round trip.
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
    """Fixed window whose hit returns the count and reset time (and reads extra keys on Redis)."""

    _script: Any = None

    def count(self, item: RateLimitItem, key: str, prefetch: list[str]) -> tuple[int, float, list[Any]]:
        if isinstance(self.storage, RedisStorage):
            if self._script is None:
                self._script = self.storage.get_connection().register_script(INCR_WITH_TTL)
            count, ttl_ms, *fetched = self._script(
                [self.storage.prefixed_key(key), *prefetch], [item.get_expiry() * 1000, 1]
            )
            return int(count), time.time() + int(ttl_ms) / 1000, fetched
        count = self.storage.incr(key, item.get_expiry())
        return int(count), self.storage.get_expiry(key), []


STRATEGIES.setdefault("inkwell-fixed-window", CountingFixedWindow)  # type: ignore[arg-type]


def identity(state: RequestState) -> str:
    """Who a limit (and an idempotency key) belongs to: the API key, else the user, else the address."""
    actor = state.actor
    if actor is not None:
        return f"key:{actor.key_id}" if actor.key_id is not None else f"user:{actor.user_id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def login_account() -> str:
    """The account a login names, so `alice` and `alice@example.com` share one limit.

    The API's login sends JSON; the console's login form sends the same `username` field
    form-encoded. Never raises: an unreadable body or a failing lookup keys on the address,
    which the per-address login limit counts as well.
    """
    try:
        if request.mimetype == "application/x-www-form-urlencoded":
            name = request.form.get("username", "")
        else:
            name = LoginIn.model_validate_json(request.get_data(cache=True) or b"{}").username
        user = auth.find_login_user(uow=uow(), login=name)
    except Exception:
        return f"addr:{request.remote_addr or 'unknown'}"
    return f"user:{user.id}" if user is not None else f"name:{name.strip().lower()}"


class RateLimits:
    def __init__(self, app: Flask, settings: Settings, redis_client: Any, auth_version_key: str) -> None:
        config = settings.rate_limit
        self.auth_version_key = auth_version_key  # read in the same round trip (web/credentials.py)
        self.enabled = config.enabled
        self.anonymous = parse(config.anonymous)
        self.authenticated = parse(config.authenticated)
        # An empty tier ("unlimited") exempts the key.
        self.tiers = {name: parse(value) if value else None for name, value in config.tiers.items()}
        self.login = parse(config.login)
        self.breaker = Breaker()
        options: dict[str, Any] = {}
        if redis_client is not None:
            # Its own prefix, apart from the cache's; the shared pool keeps the short timeouts.
            options = {
                "connection_pool": redis_client.connection_pool,
                "key_prefix": f"{settings.redis.key_prefix}:rl",
            }
        limiter = Limiter(
            lambda: "",  # keys come from identity(); Flask-Limiter's own hook is never run (see above)
            storage_uri=settings.redis.url if redis_client is not None else "memory://",
            storage_options=options,
            strategy="inkwell-fixed-window",
            headers_enabled=False,
        )
        limiter.init_app(app)
        self.shared: CountingFixedWindow = limiter.limiter  # type: ignore[assignment]
        self.remote = redis_client is not None
        self.local = CountingFixedWindow(MemoryStorage())  # Redis down: per-process counters

    def budget(self, state: RequestState) -> RateLimitItem | None:
        actor = state.actor
        if actor is None:
            return self.anonymous
        if actor.key_id is not None:
            return self.tiers.get(actor.tier or "standard", self.authenticated)
        return self.authenticated

    def check(self, state: RequestState, named: tuple[str, ...] | None = None) -> None:
        """Count the request against every limit that applies; 429 on the first one exhausted.

        Every request counts - failed authentication (against the address), 404s and 405s
        included - except CORS preflights and the undeclared-limit operations endpoints.
        `named` limits ("login") are the operation's declared ones unless given (console pages).
        """
        operation = state.operation
        if not self.enabled or state.method == "OPTIONS" or (operation is not None and not operation.limited):
            return
        if named is None:
            named = operation.limits if operation is not None else ()
        checks: list[tuple[str, RateLimitItem, str]] = []
        budget = self.budget(state)
        if budget is not None:
            checks.append(("default", budget, identity(state)))
        if "login" in named:
            addr = f"addr:{request.remote_addr or 'unknown'}"
            checks += [
                ("login", self.login, f"login-addr:{addr}"),
                ("login", self.login, f"login-account:{login_account()}"),
            ]
        prefetch: list[str] = []
        if self.remote:
            if state.credential is not None:
                prefetch.append(self.auth_version_key)
            if state.cache is not None:
                prefetch += state.cache.keys
        for policy, item, key in checks:
            window = self._hit(state, policy, item, key, prefetch)
            prefetch = []  # only the first round trip carries the other reads
            if state.rate is None or window.remaining <= state.rate.remaining:
                state.rate = window
            if window.refused:
                raise RateLimited(f"rate limit exceeded ({item}); retry after the Retry-After seconds")

    def key_window(self, tier: str, key_id: int) -> RateWindow | None:
        """An API key's current default window, read without counting (None: the tier is unlimited).

        The same counter key check() increments for a request made with that key.
        """
        item = self.tiers.get(tier, self.authenticated)
        if item is None:
            return None
        identifiers = ("default", f"key:{key_id}")
        strategy = self.shared
        if self.remote and self.breaker.allow():
            try:
                stats = strategy.get_window_stats(item, *identifiers)
            except Exception as exc:
                log.warning("rate-limit storage failed (%s); reading this process", exc.__class__.__name__)
                self.breaker.trip()
                stats = self.local.get_window_stats(item, *identifiers)
        else:
            stats = (self.local if self.remote else strategy).get_window_stats(item, *identifiers)
        return RateWindow(
            policy="default",
            limit=item.amount,
            remaining=stats.remaining,
            reset_at=stats.reset_time,
            window_seconds=item.get_expiry(),
        )

    def _hit(
        self, state: RequestState, policy: str, item: RateLimitItem, key: str, prefetch: list[str]
    ) -> RateWindow:
        counter_key = item.key_for(policy, key)
        count = reset_at = None
        if self.remote and self.breaker.allow():
            try:
                count, reset_at, fetched = self.shared.count(item, counter_key, prefetch)
                if prefetch and state.credential is not None:
                    raw, *fetched = fetched
                    state.auth_version = int(raw) if raw is not None else None
                    state.auth_version_read = True
                if prefetch and state.cache is not None:
                    state.cache.fetched = fetched
            except Exception as exc:
                log.warning(
                    "rate-limit storage failed (%s); counting in this process", exc.__class__.__name__
                )
                self.breaker.trip()
        if count is None or reset_at is None:
            strategy = self.local if self.remote else self.shared
            count, reset_at, _ = strategy.count(item, counter_key, [])
        return RateWindow(
            policy=policy,
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_at=reset_at,
            window_seconds=item.get_expiry(),
            refused=count > item.amount,
        )


def rate_headers(window: RateWindow, response: Response) -> None:
    """GitHub's X-RateLimit-* and the IETF draft's RateLimit-Policy / RateLimit, from one window."""
    seconds_left = max(0, int(window.reset_at - time.time() + 0.999))
    headers = response.headers
    headers["X-RateLimit-Limit"] = str(window.limit)
    headers["X-RateLimit-Remaining"] = str(window.remaining)
    headers["X-RateLimit-Reset"] = str(int(window.reset_at + 0.999))
    headers["RateLimit-Policy"] = f'"{window.policy}";q={window.limit};w={window.window_seconds}'
    headers["RateLimit"] = f'"{window.policy}";r={window.remaining};t={seconds_left}'
    if response.status_code == 429:
        headers["Retry-After"] = str(max(1, seconds_left))
        headers["Cache-Control"] = "no-store"
