"""Pipeline step 3: rate limits, per API key, else per user, else per client address.

The `limits` library parses the budgets (`rate_limit.*`); the pipeline calls check() at one fixed
place. What each operation adds to the caller's budget is declared on it
(`@operation(limits=("login",))`).

Without Redis (the embedded defaults), and in each process while Redis fails, the `limits`
library counts: its fixed-window strategy on its memory storage, called from check(). `limits` is
Flask-Limiter's engine; Flask-Limiter itself is not used: its per-request evaluation runs as
before/after/teardown hooks on every request, even one it is told to skip (their cost is in
docs/performance.md), at a place set by hook order rather than at step 3, and it cannot carry the
other steps' reads. With Redis, one
script on the shared client counts instead: the request's other reads ride on it
(web/roundtrip.py), and it runs on Sentinel and Cluster through the client the cache uses.

Strategy: fixed window. One atomic Lua call on the shared Redis client (INCRBY, and PEXPIRE when
the window is new) both admits and counts, so N allowed means exactly N admitted under any
concurrency across processes and hosts. The same call returns the window's remaining time (for
the headers). The price of the fixed window is a possible burst of 2N across a window boundary.

Failure: a Redis error trips the breaker and the request is counted in per-process memory
instead; an error never admits a request uncounted. The breaker probes Redis again after its
cooldown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson
from flask import request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from core.redis import Breaker, RedisClient
from core.settings import Settings
from services import auth
from web.context import RateWindow, Reads, RequestState, uow
from web.errors import RateLimited
from web.roundtrip import RoundTrip

log = logging.getLogger("inkwell.limits")


class RedisWindow:
    """The fixed window on the shared Redis client, on any topology: one script call per hit,
    sent by web/roundtrip.py with whatever else the request reads."""

    # Shared by the server's threads: immutable; the script is atomic in Redis.

    def __init__(self, client: RedisClient, prefix: str, trip: RoundTrip) -> None:
        self.client = client
        self.prefix = prefix
        self.trip = trip

    def count(self, item: RateLimitItem, key: str, reads: Reads | None) -> tuple[int, float]:
        count, ttl_ms = self.trip.count(self.prefix + key, item.get_expiry() * 1000, reads)
        return count, time.time() + ttl_ms / 1000

    def peek(self, item: RateLimitItem, key: str) -> tuple[int, float]:
        """The window's count and reset time, without counting (one key: one node)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.prefix + key)
        pipe.pttl(self.prefix + key)
        raw, ttl_ms = pipe.execute()
        if raw is None or ttl_ms < 0:
            return 0, time.time() + item.get_expiry()
        return int(raw), time.time() + ttl_ms / 1000


class MemoryWindow:
    """The same window in this process (no Redis, or while it fails): the `limits` strategy on its
    memory storage."""

    # Shared by the server's threads: `limits`' MemoryStorage takes its own lock per counter.

    def __init__(self) -> None:
        self.strategy = FixedWindowRateLimiter(MemoryStorage())

    def count(self, item: RateLimitItem, key: str) -> tuple[int, float]:
        admitted = self.strategy.hit(item, key)
        reset_at, remaining = self.strategy.get_window_stats(item, key)
        # Past the limit the window stops counting (remaining stays 0): one over is refused.
        return (item.amount - remaining) if admitted else item.amount + 1, reset_at

    def peek(self, item: RateLimitItem, key: str) -> tuple[int, float]:
        reset_at, remaining = self.strategy.get_window_stats(item, key)
        return item.amount - remaining, reset_at


def counter_key(item: RateLimitItem, policy: str, who: str) -> str:
    """A window's key. The identity is the hash tag: on a cluster, what is kept per caller shares
    its slot (`LIMITER/default/{key:42}/600/1/minute`)."""
    return item.key_for(policy, "{" + who + "}")


def identity(state: RequestState) -> str:
    """Who a limit (and an idempotency key) belongs to: the API key, else the user, else the address."""
    actor = state.actor
    if actor is not None:
        return f"key:{actor.key_id}" if actor.key_id is not None else f"user:{actor.user_id}"
    return f"addr:{request.remote_addr or 'unknown'}"


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _body_fields() -> Mapping[str, Any]:
    """The body's fields however they were sent (a form, multipart, JSON); {} when unreadable.

    Every way of sending a password is counted alike: the console's form reads all three.
    """
    if request.mimetype in FORM_TYPES:
        return request.form
    try:
        data = orjson.loads(request.get_data(cache=True) or b"{}")
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def checks_password(state: RequestState, named: tuple[str, ...]) -> bool:
    """A login ("login") always checks a password; a signed-in change ("password") when the body
    carries a current_password."""
    if "login" in named:
        return True
    if "password" in named:
        given = _body_fields().get("current_password")
        return isinstance(given, str) and given != ""
    return False


def password_account(state: RequestState, named: tuple[str, ...]) -> tuple[str, int | None]:
    """The account whose password is checked, and its user id when it exists.

    A login names it in its `username` (so `alice` and `alice@example.com` share one limit); a
    signed-in change is the caller's own. Never raises: an unreadable body or a failing lookup
    keys on the address, which the per-address login limit counts as well.
    """
    if "login" not in named:
        actor = state.actor
        if actor is None:
            return f"addr:{request.remote_addr or 'unknown'}", None
        return f"user:{actor.user_id}", actor.user_id
    try:
        name = _body_fields().get("username", "")
        if not isinstance(name, str):
            raise TypeError("username is not a string")
        user = auth.find_login_user(uow=uow(), login=name)
    except Exception:
        return f"addr:{request.remote_addr or 'unknown'}", None
    return (f"user:{user.id}", user.id) if user is not None else (f"name:{name.strip().lower()}", None)


def from_known_origin(user_id: int | None) -> bool:
    """Whether the account's owner logged in from this address before (services/auth.py)."""
    address = request.remote_addr
    if user_id is None or not address:
        return False
    try:
        return auth.known_origin(uow=uow(), user_id=user_id, address=address)
    except Exception:
        return False


class RateLimits:
    # Shared by the server's threads: parsed budgets only; counting is atomic in Redis or `limits`.
    def __init__(
        self,
        settings: Settings,
        redis_client: RedisClient | None,
        breaker: Breaker,
        trip: RoundTrip | None,
    ) -> None:
        config = settings.rate_limit
        self.enabled = config.enabled
        self.anonymous = parse(config.anonymous)
        self.authenticated = parse(config.authenticated)
        # An empty tier ("unlimited") exempts the key.
        self.tiers = {name: parse(value) if value else None for name, value in config.tiers.items()}
        self.login = parse(config.login)
        self.breaker = breaker  # shared with the cache: any Redis error makes it invalidate everything
        prefix = f"{settings.redis.key_prefix}:rl:"
        self.remote = (
            RedisWindow(redis_client, prefix, trip) if redis_client is not None and trip is not None else None
        )
        self.local = MemoryWindow()

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
        `named` limits are the operation's declared ones unless given (console pages): "login"
        (a login: the login limits per address and per account) and "password" (the same limits,
        when a signed-in caller's request checks their current password).
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
        if checks_password(state, named):
            # Per address, and per account unless its owner is back where they logged in before:
            # a guesser elsewhere can spend the account's budget but cannot lock its owner out.
            checks.append(("login", self.login, f"login-addr:addr:{request.remote_addr or 'unknown'}"))
            account, user_id = password_account(state, named)
            if not from_known_origin(user_id):
                checks.append(("login", self.login, f"login-account:{account}"))
        reads: Reads | None = state.reads  # the steps' reads ride on the first counter sent
        for policy, item, key in checks:
            window = self._hit(policy, item, key, reads)
            reads = None
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
        key = counter_key(item, "default", f"key:{key_id}")
        count = reset_at = None
        if self.remote is not None and self.breaker.allow():
            try:
                count, reset_at = self.remote.peek(item, key)
            except Exception as exc:
                log.warning("rate-limit storage failed (%s); reading this process", exc.__class__.__name__)
                self.breaker.trip()
        if count is None or reset_at is None:
            count, reset_at = self.local.peek(item, key)
        return RateWindow(
            policy="default",
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_at=reset_at,
            window_seconds=item.get_expiry(),
        )

    def _hit(self, policy: str, item: RateLimitItem, key: str, reads: Reads | None) -> RateWindow:
        window_key = counter_key(item, policy, key)
        count = reset_at = None
        if self.remote is not None and self.breaker.allow():
            try:
                count, reset_at = self.remote.count(item, window_key, reads)
            except Exception as exc:
                log.warning(
                    "rate-limit storage failed (%s); counting in this process", exc.__class__.__name__
                )
                self.breaker.trip()
        if count is None or reset_at is None:
            count, reset_at = self.local.count(item, window_key)
        return RateWindow(
            policy=policy,
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_at=reset_at,
            window_seconds=item.get_expiry(),
            refused=count > item.amount,
        )


def rate_headers(window: RateWindow | None, status: int) -> list[tuple[str, str]]:
    """GitHub's X-RateLimit-* and the IETF draft's RateLimit-Policy / RateLimit, from one window."""
    if window is None:
        return []
    seconds_left = max(0, int(window.reset_at - time.time() + 0.999))
    headers = [
        ("X-RateLimit-Limit", str(window.limit)),
        ("X-RateLimit-Remaining", str(window.remaining)),
        ("X-RateLimit-Reset", str(int(window.reset_at + 0.999))),
        ("RateLimit-Policy", f'"{window.policy}";q={window.limit};w={window.window_seconds}'),
        ("RateLimit", f'"{window.policy}";r={window.remaining};t={seconds_left}'),
    ]
    if status == 429:
        headers.append(("Retry-After", str(max(1, seconds_left))))
    return headers
