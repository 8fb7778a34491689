"""The response cache: GETs served from Flask-Caching, invalidated exactly by versioned namespaces.

A GET opts in with `@operation(cache=CachePolicy("posts"))`; a write names the namespaces it
bumps with `@operation(invalidates=("posts", ...))`.

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
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Flask, Response, request
from flask_caching import Cache

from core.redis import Breaker
from core.settings import Settings
from web.context import CacheState, RequestState, state
from web.contract import CachePolicy, etag_of
from web.credentials import AUTH_NAMESPACE

log = logging.getLogger("inkwell.cache")

# Query parameters that choose a page, not the rows: the total does not depend on them.
PAGING = frozenset({"page", "per_page", "sort"})

# Namespaces a user deletion can touch: their posts, comments and profile all go.
EVERYTHING = ("users", "posts", "comments", "items")


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

    # -- pipeline steps ------------------------------------------------------------------------

    def plan(self, state: RequestState) -> None:
        """Name this GET's entry and namespace keys before the limiter runs: its Redis script
        reads them in the same round trip as its counter, so lookup() needs no MGET of its own."""
        operation = state.operation
        if state.method != "GET" or operation is None or operation.cache is None or not self.enabled:
            return
        policy = operation.cache
        names = [self._entry_key(state, policy), f"ns:{policy.namespace}"]
        if policy.counts:
            names.append(self._total_key(state, policy))
        state.cache = CacheState(keys=[self.prefix + name for name in names])

    def lookup(self, state: RequestState) -> Response | None:
        plan = state.cache
        if plan is None:
            return None
        replayed_bumps = bool(self._pending)
        if not self.breaker.allow() or not self._flush_pending():
            plan.result = "BYPASS"
            return None
        if replayed_bumps:
            plan.fetched = None  # read before the replayed bumps: it may hold a stale version
        names = [key.removeprefix(self.prefix) for key in plan.keys]
        try:
            if plan.fetched is not None:
                entry, version, *total = (self.backend.serializer.loads(raw) for raw in plan.fetched)
            else:
                entry, version, *total = self.backend.get_many(*names)
        except Exception as exc:
            self._failed("read", exc)
            plan.result = "BYPASS"
            return None
        version = version or 0
        if entry is not None and entry.get("v") == version:
            plan.result = "HIT"
            response = Response(entry["b"], status=200, mimetype="application/json")
            response.headers["ETag"] = entry["e"]
            if entry.get("l"):
                response.headers["Link"] = entry["l"]
            return response
        plan.result = "MISS"
        plan.fill = (names[0], version)
        if len(names) == 3:
            plan.total = (names[2], version, total[0])
        return None

    def cached_total(self, compute: Callable[[], int]) -> int:
        """The list total for this request's filters: cached under the namespace version (exact:
        any write bumps the version), else counted and stored. The unit of work calls this."""
        plan = state().cache
        if plan is None or plan.total is None:
            return compute()
        key, version, known = plan.total
        if isinstance(known, dict) and known.get("v") == version:
            return int(known["n"])
        total = compute()
        try:
            self.backend.set(key, {"v": version, "n": total}, timeout=self.ttl)
        except Exception as exc:
            self._failed("write", exc)
        return total

    def finish(self, state: RequestState, response: Response) -> None:
        """Store a MISS's 200; after a 2xx write, bump the namespaces the operation declares, and
        those a console page named once its service call committed."""
        operation = state.operation
        if state.method == "GET":
            plan = state.cache
            if plan is not None and plan.fill is not None and response.status_code == 200:
                self._store(response, *plan.fill)
            return
        if state.invalidates:
            self.bump(state.invalidates)
        elif operation is not None and not state.replayed:
            if operation.invalidates and 200 <= response.status_code < 300:
                self.bump(operation.invalidates)
            elif operation.revokes:
                self.bump((AUTH_NAMESPACE,))

    def version(self, namespace: str) -> int | None:
        """A namespace's version; None when it cannot be read, so nothing stamped may be trusted.

        A missing version (a Redis that restarted empty) is set to a random number first: a
        counter starting again at 0 could match a stamp taken before a bump that was lost.
        """
        if not self.enabled or not self.breaker.allow() or not self._flush_pending():
            return None
        key = f"ns:{namespace}"
        try:
            value = self.backend.get(key)
            if value is None:
                self.backend.add(key, secrets.randbits(48), timeout=0)
                value = self.backend.get(key)
        except Exception as exc:
            self._failed("read", exc)
            return None
        return value if isinstance(value, int) else None

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

    def _total_key(self, state: RequestState, policy: CachePolicy) -> str:
        filters = urlencode(sorted((k, v) for k, v in request.args.items(multi=True) if k not in PAGING))
        raw = f"COUNT {request.path}?{filters} as {'*' if policy.public else visibility_class(state)}"
        return "t:" + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()

    def _entry_key(self, state: RequestState, policy: CachePolicy) -> str:
        query = urlencode(sorted(request.args.items(multi=True)))
        raw = f"GET {request.path}?{query} as {'*' if policy.public else visibility_class(state)}"
        return "r:" + hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def visibility_class(state: RequestState) -> str:
    """Callers who see the same data share entries: anonymous, one user (any of their keys), admins."""
    actor = state.actor
    if actor is None:
        return "anon"
    return "admin" if actor.is_admin else f"user:{actor.user_id}"
