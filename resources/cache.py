"""The response cache: GETs served from Flask-Caching, invalidated exactly by versioned namespaces.

A Resource opts in with a class attribute, `cache_policy = CachePolicy("posts", invalidates=...)`.

- Key: path + sorted query string + the caller's visibility class (anonymous, that user, admin),
  so what one caller may see never reaches another (Flask-Caching's default key ignores all that).
- Entry: JSON `{"v": namespace version, "b": body, "e": ETag, "l": Link}`, never pickle.
- Invalidation: every 2xx write bumps (INCR) the namespaces its Resource names, after the
  service committed and before the response leaves. A read fetches [entry, namespace version]
  in one MGET and treats an entry stamped with an older version as a miss. The version is read
  BEFORE the response is computed, so a read racing a write stores its entry under the old
  version, which the bump has already made unreachable.
- Without Redis the cache is in-process (SimpleCache), which is only correct with one worker:
  with several, it is switched off rather than serving one process's stale copy from another.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Flask, Response, current_app, g, request
from flask_caching import Cache

from core.redis import Breaker
from core.settings import Settings
from resources.base import etag_of

log = logging.getLogger("inkwell.cache")

# Query parameters that choose a page, not the rows: the total does not depend on them.
PAGING = frozenset({"page", "per_page", "sort"})

# Namespaces a user deletion can touch: their posts, comments and profile all go.
EVERYTHING = ("users", "posts", "comments", "items")


@dataclass(frozen=True)
class CachePolicy:
    """How a Resource uses the cache: the namespace its GETs read, the ones its writes bump."""

    namespace: str | None = None
    invalidates: tuple[str, ...] = ()
    # The response does not depend on who asks (e.g. the public catalog): one entry for all.
    public: bool = False
    # A paginated list: its total is cached too, per filter set, under the same namespace
    # version, so a page that misses still skips the COUNT over a large table.
    counts: bool = False


class JsonSerializer:
    """cachelib serializer: JSON (orjson) instead of pickle; INCR'd integers read back as ints."""

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(self, value: bytes | None) -> Any:
        return None if value is None else orjson.loads(value)


class ResponseCache:
    def __init__(self, app: Flask, settings: Settings, redis_client: Any, breaker: Breaker) -> None:
        self.redis = redis_client
        self.breaker = breaker
        self.ttl = settings.cache.default_ttl_seconds
        self.enabled = settings.cache.enabled and (redis_client is not None or settings.server.workers == 1)
        # Bumps that failed while Redis was down; replayed before the next read is served.
        self._pending: set[str] = set()
        if redis_client is not None:
            config = {
                "CACHE_TYPE": "RedisCache",
                "CACHE_REDIS_HOST": redis_client,  # the shared client: its pool and short timeouts
                # Its own prefix: the limiter and idempotency keys live elsewhere, nothing flushes them.
                "CACHE_KEY_PREFIX": f"{settings.redis.key_prefix}:cache:",
                "CACHE_DEFAULT_TIMEOUT": self.ttl,
            }
        else:
            config = {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 5000, "CACHE_DEFAULT_TIMEOUT": self.ttl}
        extension = Cache(app, config=config)
        self.backend = app.extensions["cache"][extension]
        self.backend.serializer = JsonSerializer()
        self.prefix = f"{settings.redis.key_prefix}:cache:"

    # -- request hooks -------------------------------------------------------------------------

    def plan(self) -> None:
        """Name this GET's entry and namespace keys before the rate limiter runs.

        The limiter's Redis script reads them in the same round trip as its counter
        (g.cache_prefetch); lookup() then needs no MGET of its own.
        """
        policy = _policy()
        if request.method != "GET" or policy is None or policy.namespace is None or not self.enabled:
            return
        keys = [self._entry_key(policy), f"ns:{policy.namespace}"]
        if policy.counts:
            keys.append(self._total_key(policy))
        g.cache_plan = keys
        if self.redis is not None and self.breaker.allow() and not self._pending:
            g.cache_prefetch = [self.prefix + name for name in g.cache_plan]

    def lookup(self) -> Response | None:
        plan = g.get("cache_plan")
        if plan is None:
            return None
        if not self.breaker.allow() or not self._flush_pending():
            g.x_cache = "BYPASS"
            return None
        key = plan[0]
        try:
            prefetched = g.get("cache_prefetched")
            if prefetched is not None:
                entry, version, *total = (self.backend.serializer.loads(raw) for raw in prefetched)
            else:
                entry, version, *total = self.backend.get_many(*plan)
        except Exception as exc:
            self._failed("read", exc)
            g.x_cache = "BYPASS"
            return None
        version = version or 0
        if entry is not None and entry.get("v") == version:
            g.x_cache = "HIT"
            response = Response(entry["b"], status=200, mimetype="application/json")
            response.headers["ETag"] = entry["e"]
            if entry.get("l"):
                response.headers["Link"] = entry["l"]
            return response
        g.x_cache = "MISS"
        g.cache_fill = (key, version)
        if len(plan) == 3:
            g.total_plan = (plan[2], version, total[0])
        return None

    def cached_total(self, compute: Callable[[], int]) -> int:
        """The list total for this request's filters: cached under the namespace version (exact:
        any write bumps the version), else counted and stored. The unit of work calls this."""
        plan = g.get("total_plan")
        if plan is None:
            return compute()
        key, version, known = plan
        if isinstance(known, dict) and known.get("v") == version:
            return int(known["n"])
        total = compute()
        try:
            self.backend.set(key, {"v": version, "n": total}, timeout=self.ttl)
        except Exception as exc:
            self._failed("write", exc)
        return total

    def finish(self, response: Response) -> Response:
        if request.method == "GET":
            state = g.get("x_cache")
            if state is not None:
                response.headers["X-Cache"] = state
            fill = g.get("cache_fill")
            if fill is not None and response.status_code == 200 and response.mimetype == "application/json":
                self._store(response, *fill)
        elif request.method not in ("HEAD", "OPTIONS") and 200 <= response.status_code < 300:
            policy = _policy()
            if policy is not None and policy.invalidates and not g.get("idempotent_replay"):
                self.bump(policy.invalidates)
        return response

    # -- storage -------------------------------------------------------------------------------

    def _store(self, response: Response, key: str, version: int) -> None:
        body = response.get_data()
        tag = response.headers.get("ETag") or etag_of(body)
        response.headers["ETag"] = tag  # conditional_get reuses it for If-None-Match
        entry = {"v": version, "b": body.decode(), "e": tag, "l": response.headers.get("Link")}
        try:
            self.backend.set(key, entry, timeout=self.ttl)
        except Exception as exc:
            self._failed("write", exc)

    def bump(self, namespaces: tuple[str, ...]) -> None:
        """Make every entry of these namespaces unreachable (one pipelined round trip)."""
        if not self.enabled:
            return
        if not self.breaker.allow():
            self._pending.update(namespaces)
            return
        try:
            if self.redis is not None:
                pipe = self.redis.pipeline(transaction=False)
                for name in namespaces:
                    pipe.incr(f"{self.prefix}ns:{name}")
                pipe.execute()
            else:
                for name in namespaces:
                    self.backend.inc(f"ns:{name}")
        except Exception as exc:
            self._pending.update(namespaces)
            self._failed("invalidate", exc)

    def _flush_pending(self) -> bool:
        """Replay bumps lost to an outage before serving anything from the cache again."""
        if not self._pending:
            return True
        pending, self._pending = tuple(self._pending), set()
        self.bump(pending)
        return not self._pending

    def _failed(self, what: str, exc: Exception) -> None:
        log.warning("cache %s failed (%s); bypassing Redis for %.1fs", what, exc, self.breaker.cooldown)
        self.breaker.trip()

    def _total_key(self, policy: CachePolicy) -> str:
        filters = urlencode(sorted((k, v) for k, v in request.args.items(multi=True) if k not in PAGING))
        raw = f"COUNT {request.path}?{filters} as {'*' if policy.public else visibility_class()}"
        return "t:" + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()

    def _entry_key(self, policy: CachePolicy) -> str:
        query = urlencode(sorted(request.args.items(multi=True)))
        raw = f"GET {request.path}?{query} as {'*' if policy.public else visibility_class()}"
        return "r:" + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def visibility_class() -> str:
    """Callers who see the same data share entries: anonymous, one user (any of their keys), admins."""
    actor = g.get("actor")
    if actor is None:
        return "anon"
    return "admin" if actor.is_admin else f"user:{actor.user_id}"


def _policy() -> CachePolicy | None:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(getattr(view, "view_class", None), "cache_policy", None)


def install_planner(app: Flask, cache: ResponseCache) -> None:
    """Before the limiter's hook, so its script can fetch the entry in the same round trip."""
    app.before_request(cache.plan)


def install(app: Flask, cache: ResponseCache) -> None:
    app.before_request(cache.lookup)
    app.after_request(cache.finish)
