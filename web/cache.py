"""The response cache: GETs served from Flask-Caching, invalidated exactly by versioned namespaces.

A GET opts in with `@operation(cache=CachePolicy(Namespace.POSTS))`; a write names the namespaces
it bumps with `@operation(invalidates=(Namespace.POSTS, ...))`.

- Key: path + sorted query string + the caller's visibility class (anonymous, that user, admin),
  so what one caller may see never reaches another (Flask-Caching's default key ignores all that).
- Entry: a JSON head `{"v": version stamp, "e": ETag, "l": Link}`, a newline, then the body's
  bytes as sent (a hit neither parses nor re-encodes the body); never pickle.
- Invalidation: every 2xx write bumps the namespaces its Resource names (web/versions.py), after
  the service committed and before the response leaves. A read fetches [entry, namespace
  version] in the request's one round trip (web/roundtrip.py) and treats an entry stamped with
  another version as a miss. The version is read BEFORE the response is computed, so a read
  racing a write stores its entry under the old version, which the bump has already made
  unreachable. Lost bumps and failovers: web/versions.py.
- Layout: a namespace's version, entries and list totals share one hash slot (`{posts}`), so
  their reads touch one slot on a cluster.
- Without Redis the cache is in-process (SimpleCache), which is only correct with one worker:
  with several, it is switched off rather than serving one process's stale copy from another.

What Flask-Caching does here, and what goes around it: it is configured through its public
config and gives the backend (`Cache.cache`, cachelib's RedisCache or SimpleCache) that every read
and write outside the hot path uses. Its `@cached` decorator is not used: its key knows nothing of
visibility classes or namespace versions, and it would read with a round trip of its own. On the
hot path a hit's values come from the request's round trip (web/roundtrip.py) and a miss's SET
goes straight on the server thread's connection (core.redis.ThreadConnections), the command
RedisCache.set would send.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
from flask import Flask, Response, request
from flask_caching import Cache

from core.redis import Breaker, RedisClient, ThreadConnections
from core.settings import Settings
from web.context import CacheState, RequestState
from web.contract import CachePolicy, canonical_query, etag_of
from web.versions import DOWN, READY, Versions, version_name

log = logging.getLogger("inkwell.cache")

# Query parameters that choose a page, not the rows: the total does not depend on them.
PAGING = frozenset({"page", "per_page", "sort"})


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


def cache_store(app: Flask, settings: Settings, redis_client: RedisClient | None) -> Any:
    """Flask-Caching's backend, shared by the response cache and the namespace versions: Redis
    through the shared client (its pool and short timeouts), else this process's SimpleCache."""
    ttl = settings.cache.default_ttl_seconds
    if redis_client is not None:
        config = {
            "CACHE_TYPE": "RedisCache",
            "CACHE_REDIS_HOST": redis_client,
            # Its own prefix: the limiter and idempotency keys live elsewhere, nothing flushes them.
            "CACHE_KEY_PREFIX": f"{settings.redis.key_prefix}:cache:",
            "CACHE_DEFAULT_TIMEOUT": ttl,
        }
    else:
        config = {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 5000, "CACHE_DEFAULT_TIMEOUT": ttl}
    with app.app_context():
        backend: Any = Cache(app, config=config).cache  # RedisCache or SimpleCache
    backend.serializer = JsonSerializer()
    return backend


class ResponseCache:
    # Shared by the server's threads: it keeps nothing per request (RequestState.cache does).
    def __init__(
        self,
        settings: Settings,
        backend: Any,
        versions: Versions,
        breaker: Breaker,
        direct: ThreadConnections,
    ) -> None:
        self.backend = backend
        self.versions = versions
        self.breaker = breaker  # shared: an error here makes the versions recover (web/versions.py)
        self.direct = direct
        self.ttl = settings.cache.default_ttl_seconds
        self.enabled = settings.cache.enabled and versions.enabled
        self.prefix = f"{settings.redis.key_prefix}:cache:"

    # -- pipeline steps ------------------------------------------------------------------------

    def plan(self, state: RequestState) -> None:
        """Name this GET's entry, namespace version and total keys on the request's reads, before
        the limiter runs: they are read in the same round trip as its counter."""
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
        keys = [self.prefix + name for name in names]
        state.cache = CacheState(namespace=policy.namespace, keys=keys)
        state.reads.want(*keys)

    def lookup(self, state: RequestState) -> Response | None:
        plan = state.cache
        if plan is None:
            return None
        readiness = self.versions.ready()
        if readiness == DOWN:
            plan.result = "BYPASS"
            return None
        names = [key.removeprefix(self.prefix) for key in plan.keys]
        # Values read before a recovery's bumps may hold a stale version: read them again after.
        fetched = state.reads.taken(plan.keys) if readiness == READY else None
        try:
            if fetched is not None:
                loads = self.backend.serializer.loads
                entry, version, *total = [loads(raw) for raw in fetched]
            else:
                entry, version, *total = self.backend.get_many(*names)
            found = unpack_entry(entry)
        except Exception as exc:
            self._failed("read", exc)
            plan.result = "BYPASS"
            return None
        version = self.versions.stamp(plan.namespace, version)
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
            self.versions.bump(state.invalidates)
            return
        # A refused or failed write changed nothing; a replay's first response already bumped.
        written = 200 <= response.status_code < 300 and not state.replayed
        if operation is not None and operation.invalidates and written:
            self.versions.bump(operation.invalidates)

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
