"""The response cache: GETs served from Flask-Caching, invalidated exactly by versioned namespaces.

A GET opts in with `@operation(cache=CachePolicy("posts"))`; a write names the namespaces it
bumps with `@operation(invalidates=("posts", ...))`.

- Key: path + sorted query string + the caller's visibility class (anonymous, that user, admin),
  so what one caller may see never reaches another (Flask-Caching's default key ignores all that).
- Entry: a JSON head `{"v": version stamp, "e": ETag, "l": Link}`, a newline, then the body's
  bytes as sent (a hit neither parses nor re-encodes the body); never pickle.
- Invalidation: every 2xx write bumps (INCR) the namespaces its Resource names, after the
  service committed and before the response leaves. A read fetches [entry, namespace version]
  in one MGET and treats an entry stamped with another version as a miss. The version is read
  BEFORE the response is computed, so a read racing a write stores its entry under the old
  version, which the bump has already made unreachable.
- Layout: a namespace's version, entries and list totals share one hash slot (`{posts}`), so
  that MGET (and the limiter's script, which reads them too) touches one slot on a cluster.
- Lost bumps: after any Redis error this process has seen, or a Sentinel failover it noticed
  (core.redis.MasterWatch), every namespace is bumped before the cache serves again; and the
  stamp names the server that holds the namespace (the Sentinel master, the cluster node), so
  entries written before a failover are misses in every process, new ones included.
- Without Redis the cache is in-process (SimpleCache), which is only correct with one worker:
  with several, it is switched off rather than serving one process's stale copy from another.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from flask import Flask, Response, request
from flask_caching import Cache

from core.redis import Breaker, MasterWatch, ThreadConnections, server_of
from core.settings import Settings
from web.context import CacheState, RequestState
from web.contract import CachePolicy, canonical_query, etag_of
from web.credentials import AUTH_NAMESPACE

log = logging.getLogger("inkwell.cache")

# Query parameters that choose a page, not the rows: the total does not depend on them.
PAGING = frozenset({"page", "per_page", "sort"})

# Namespaces a user deletion can touch: their posts, comments and profile all go.
EVERYTHING = ("users", "posts", "comments", "items")
# What a recovery bumps: the response cache's namespaces and the remembered callers' (web/credentials.py).
ALL_NAMESPACES = (*EVERYTHING, AUTH_NAMESPACE)


def version_name(namespace: str) -> str:
    """A namespace's version key (without the prefix); the hash tag is the namespace's slot."""
    return "{" + namespace + "}:v"


class JsonSerializer:
    """cachelib serializer: JSON (orjson) instead of pickle; INCR'd integers read back as ints.

    A response entry (bytes: head, newline, body) is stored and read back as it is: orjson never
    writes a raw newline, so a value holding one is an entry, never a JSON document.
    """

    def dumps(self, value: Any) -> bytes:
        return value if isinstance(value, bytes) else orjson.dumps(value)

    def loads(self, value: bytes | None) -> Any:
        if value is None or b"\n" in value:
            return value
        return orjson.loads(value)


def pack_entry(version: str, etag: str, link: str | None, body: bytes) -> bytes:
    return orjson.dumps({"v": version, "e": etag, "l": link}) + b"\n" + body


def unpack_entry(raw: Any) -> tuple[dict[str, Any], bytes] | None:
    """(head, body), or None for a missing or malformed entry (an entry of an older format)."""
    if not isinstance(raw, bytes):
        return None
    head, newline, body = raw.partition(b"\n")
    return (orjson.loads(head), body) if newline else None


class ResponseCache:
    def __init__(
        self, app: Flask, settings: Settings, redis_client: Any, breaker: Breaker, direct: ThreadConnections
    ) -> None:
        self.redis = redis_client
        self.direct = direct
        self.breaker = breaker
        self.ttl = settings.cache.default_ttl_seconds
        self.enabled = settings.cache.enabled and (redis_client is not None or settings.server.workers == 1)
        # The breaker trips this process has recovered from by bumping every namespace (None:
        # it noticed a new Sentinel master and has not yet).
        self._recovered: int | None = breaker.trips
        self.master = MasterWatch(redis_client)
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
        tag = "{" + policy.namespace + "}"  # one hash slot per namespace (see the module docstring)
        # `e:` since entries became head + body (they were `r:`, JSON with the body inside): a
        # worker of either release, side by side during a rolling restart, never reads the other's.
        names = [f"{tag}:e:{self._entry_hash(state, policy)}", version_name(policy.namespace)]
        if policy.counts:
            names.append(f"{tag}:t:{self._total_hash(state, policy)}")
        state.cache = CacheState(keys=[self.prefix + name for name in names])

    def lookup(self, state: RequestState) -> Response | None:
        plan = state.cache
        if plan is None:
            return None
        if not self.breaker.allow():
            plan.result = "BYPASS"
            return None
        if self.must_recover():
            self.bump(ALL_NAMESPACES)
            if self.must_recover():
                plan.result = "BYPASS"
                return None
            plan.fetched = None  # read before the bumps: it may hold a stale version
        names = [key.removeprefix(self.prefix) for key in plan.keys]
        try:
            if plan.fetched is not None:
                loads = self.backend.serializer.loads
                entry, version, *total = (loads(raw) for raw in plan.fetched)
            else:
                entry, version, *total = self.backend.get_many(*names)
            found = unpack_entry(entry)
        except Exception as exc:
            self._failed("read", exc)
            plan.result = "BYPASS"
            return None
        version = self._stamp(names[1], version)
        if found is not None and found[0].get("v") == version:
            plan.result = "HIT"
            head, body = found
            headers = [("Content-Type", "application/json"), ("ETag", head["e"])]
            if head.get("l"):
                headers.append(("Link", head["l"]))
            return Response(body, status=200, headers=headers)
        plan.result = "MISS"
        plan.fill = (names[0], version)
        if len(names) == 3:
            plan.total = (names[2], version, total[0])
            state.totals = partial(self.cached_total, plan)
        return None

    def cached_total(self, plan: CacheState, compute: Callable[[], int]) -> int:
        """The list total for this request's filters: cached under the namespace version (exact:
        any write bumps the version), else counted and stored. The unit of work calls this."""
        if plan.total is None:
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
            elif operation.revokes and state.uow is not None and state.uow.revoked_credentials:
                self.bump((AUTH_NAMESPACE,))

    def version_key(self, namespace: str) -> str:
        """The Redis key of a namespace's version, for a script that reads it (web/limits.py)."""
        return self.prefix + version_name(namespace)

    def version(self, namespace: str) -> int | None:
        """A namespace's version; None when it cannot be read, so nothing stamped may be trusted.

        A missing version (a Redis that restarted empty) is set to a random number first: a
        counter starting again at 0 could match a stamp taken before a bump that was lost.
        """
        if not self.enabled or not self.breaker.allow():
            return None
        if self.must_recover():
            self.bump(ALL_NAMESPACES)
            if self.must_recover():
                return None
        key = version_name(namespace)
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

    def _store(self, response: Response, key: str, version: str) -> None:
        body = response.get_data()
        tag = response.headers.get("ETag") or etag_of(body)
        response.headers["ETag"] = tag  # conditional_get reuses it for If-None-Match
        entry = pack_entry(version, tag, response.headers.get("Link"), body)
        try:
            if self.direct.enabled:  # what backend.set sends, without the client's overhead
                self.direct.execute("SET", self.prefix + key, entry, "EX", self.ttl)
            else:
                self.backend.set(key, entry, timeout=self.ttl)
        except Exception as exc:
            self._failed("write", exc)

    def bump(self, namespaces: tuple[str, ...]) -> None:
        """Make every entry of these namespaces unreachable (one pipelined round trip); every
        namespace while this process must recover. A bump that fails trips the breaker, so the
        next read or write bumps everything first."""
        if not self.enabled or not self.breaker.allow():
            return
        trips, recovering = self.breaker.trips, self.must_recover()
        names = ALL_NAMESPACES if recovering else namespaces
        try:
            if self.redis is not None:
                pipe = self.redis.pipeline(transaction=False)
                for name in names:
                    pipe.incr(self.version_key(name))
                pipe.execute()
            else:
                for name in names:
                    self.backend.inc(version_name(name))
        except Exception as exc:
            self._failed("invalidate", exc)
            return
        if recovering:
            self._recovered = trips

    def must_recover(self) -> bool:
        """After a Redis error (in the cache, the limits or idempotency) or a Sentinel failover,
        every namespace is bumped before the cache serves again: a bump lost in the outage, or
        acknowledged by a master that a failover then replaced, must not let an old entry through."""
        if self.master.moved():
            self._recovered = None
        return self._recovered != self.breaker.trips

    def _stamp(self, version_key: str, version: int | None) -> str:
        """The namespace version, and the server that holds it (see core.redis.server_of)."""
        server = server_of(self.redis, self.prefix + version_key) if self.redis is not None else ""
        return f"{server}/{version or 0}"

    def _failed(self, what: str, exc: Exception) -> None:
        log.warning("cache %s failed (%s); bypassing Redis for %.1fs", what, exc, self.breaker.cooldown)
        self.breaker.trip()

    def _total_hash(self, state: RequestState, policy: CachePolicy) -> str:
        # repr() of the sorted pairs is as unambiguous as urlencode() and costs a third of it.
        filters = repr([(k, v) for k, v in self._query(state) if k not in PAGING])
        raw = f"COUNT {request.path}?{filters} as {'*' if policy.public else visibility_class(state)}"
        return hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()

    @staticmethod
    def _query(state: RequestState) -> list[tuple[str, str]]:
        """The query the response depends on: as parsed (one key per meaning, however spelled),
        or as sent when it does not parse (a 422, never stored)."""
        if state.query is not None:
            return canonical_query(state.query)
        return sorted(request.args.items(multi=True))

    def _entry_hash(self, state: RequestState, policy: CachePolicy) -> str:
        query = repr(self._query(state)) if request.query_string else "[]"
        raw = f"GET {request.path}?{query} as {'*' if policy.public else visibility_class(state)}"
        return hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def visibility_class(state: RequestState) -> str:
    """Callers who see the same data share entries: anonymous, one user (any of their keys), admins."""
    actor = state.actor
    if actor is None:
        return "anon"
    return "admin" if actor.is_admin else f"user:{actor.user_id}"
