"""Namespace versions: what the response cache and the remembered callers are stamped with.

A namespace is a counter in Redis (in this process without Redis, which is only correct with
one worker: with several, versions are off and nothing is stamped or trusted). A write bumps
(INCR) the namespaces it touched once it committed; anything stamped with an older version is
then unreachable, in every process. The response cache stamps its entries and list totals with
the version of their resource's namespace (web/cache.py); the credential cache stamps each
remembered caller with the version of AUTH (web/credentials.py).

- A missing version (a Redis that restarted empty) is set to a random number first: a counter
  starting again at 0 could match a stamp taken before a bump that was lost.
- Lost bumps: after any Redis error this process has seen (the breaker's trips, shared with the
  limiter and idempotency), or a Sentinel failover it noticed (core.redis.MasterWatch), every
  namespace is bumped before a version is trusted again.
- A stamp also names the server that holds the namespace (the Sentinel master, the cluster
  node), so what was written before a failover is a miss everywhere, new processes included.
"""

from __future__ import annotations

import logging
import secrets
from enum import StrEnum
from typing import Any

from core.redis import Breaker, MasterWatch, RedisClient, is_cluster, server_of

log = logging.getLogger("inkwell.versions")


class Namespace(StrEnum):
    """What a cached response or a remembered caller depends on. A bare string is refused where
    operations are declared (web/contract.py), so a misspelt namespace fails at start-up."""

    USERS = "users"
    POSTS = "posts"
    COMMENTS = "comments"
    ITEMS = "items"
    AUTH = "auth"  # the credentials' rights: bumped when a unit of work revoked some


READY, RECOVERED, DOWN = 0, 1, 2  # Versions.ready()

# Every namespace a cached response depends on (deleting a user touches them all).
RESPONSES = (Namespace.USERS, Namespace.POSTS, Namespace.COMMENTS, Namespace.ITEMS)


def version_name(namespace: Namespace) -> str:
    """A namespace's version key, without the prefix; the hash tag is the namespace's slot, which
    its cached entries and totals share (one slot per namespace on a cluster)."""
    return "{" + namespace + "}:v"


class Versions:
    # Shared by the server's threads: counters live in Redis (atomic INCR); `_recovered` is one
    # assignment, and a race between two recoveries only bumps twice.
    def __init__(
        self, store: Any, redis_client: RedisClient | None, breaker: Breaker, prefix: str, *, enabled: bool
    ) -> None:
        self.store = store  # Flask-Caching's cachelib backend: Redis, or this process's SimpleCache
        self.redis = redis_client
        self.breaker = breaker
        self.prefix = prefix
        self.enabled = enabled
        self.master = MasterWatch(redis_client)
        # The breaker trips this process has recovered from by bumping every namespace (None:
        # it noticed a new Sentinel master and has not yet).
        self._recovered: int | None = breaker.trips
        self.auth_key = self.key(Namespace.AUTH)
        # One server, or none: every stamp names the same server (""); asked per stamp otherwise.
        plain = redis_client is None or (not is_cluster(redis_client) and self.master.pool is None)
        self._server: str | None = "" if plain else None

    def key(self, namespace: Namespace) -> str:
        """The Redis key of a namespace's version, for a round trip that reads it with others."""
        return self.prefix + version_name(namespace)

    def ready(self) -> int:
        """READY: versions can be trusted, and so can values read before this call. RECOVERED:
        this process had lost bumps and has just bumped every namespace, so versions read before
        are stale (read them again). DOWN: nothing stamped can be trusted now."""
        if not self.enabled or not self.breaker.allow():
            return DOWN
        if not self.must_recover():
            return READY
        self.bump(tuple(Namespace))
        return DOWN if self.must_recover() else RECOVERED

    def read(self, namespace: Namespace) -> int | None:
        """A namespace's version; None when it cannot be read, so nothing stamped may be trusted."""
        if self.ready() == DOWN:
            return None
        name = version_name(namespace)
        try:
            value = self.store.get(name)
            if value is None:
                self.store.add(name, secrets.randbits(48), timeout=0)
                value = self.store.get(name)
        except Exception as exc:
            self.failed("read", exc)
            return None
        return value if isinstance(value, int) else None

    def bump(self, namespaces: tuple[Namespace, ...]) -> None:
        """Make everything stamped with these namespaces' versions unreachable (one pipelined round
        trip); every namespace while this process must recover. A bump that fails trips the
        breaker, so the next read or write bumps everything first."""
        if not self.enabled or not self.breaker.allow():
            return
        trips, recovering = self.breaker.trips, self.must_recover()
        names = tuple(Namespace) if recovering else namespaces
        try:
            if self.redis is not None:
                pipe = self.redis.pipeline(transaction=False)
                for name in names:
                    pipe.incr(self.key(name))
                pipe.execute()
            else:
                for name in names:
                    self.store.inc(version_name(name))
        except Exception as exc:
            self.failed("bump", exc)
            return
        if recovering:
            self._recovered = trips

    def must_recover(self) -> bool:
        """After a Redis error (in the cache, the limits or idempotency) or a Sentinel failover,
        a bump lost in the outage, or acknowledged by a master a failover then replaced, must not
        let an old stamp through: every namespace is bumped before versions are trusted again."""
        if self.master.moved():
            self._recovered = None
        return self._recovered != self.breaker.trips

    def stamp(self, namespace: Namespace, version: int | None) -> str:
        """A version as entries are stamped with it: the server that holds it, and the number."""
        server = self._server
        if server is None and self.redis is not None:
            server = server_of(self.redis, self.key(namespace))
        return f"{server or ''}/{version or 0}"

    def failed(self, what: str, exc: Exception) -> None:
        log.warning("versions %s failed (%s); bypassing Redis for %.1fs", what, exc, self.breaker.cooldown)
        self.breaker.trip()
