"""The hot path's one Redis round trip: each step names what it wants read, one module sends it.

Before the rate limiter counts, the steps that want values from Redis name their keys on the
request's Reads (web/context.py): the response cache its entry, its namespace's version and a
list total; a remembered caller the AUTH version. The limiter's counter goes out first, through
count() here, and on one server or Sentinel the script reads the named keys in the same call: a
cached GET costs one round trip in all. On a cluster (the counter's slot is the caller's, the
reads' are their namespaces'), or when no counter was sent (limits off, an unlimited key, Redis
failing), fetch() reads them in one MGET, split by slot on a cluster. Each step then takes its
own values back by key; a key that could not be read is absent, and its step reads on its own.
The limiter knows only that it carries reads; the steps know nothing of the limiter.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError

from core.redis import Breaker, RedisClient, ThreadConnections, is_cluster
from web.context import Reads

log = logging.getLogger("inkwell.roundtrip")

# KEYS[1] is the counter (INCRBY ARGV[2], PEXPIRE ARGV[1] ms when the window is new); any further
# KEYS are read back in the same call.
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


class RoundTrip:
    # Shared by the server's threads: it holds no per-request state (Reads is the request's).
    def __init__(self, client: RedisClient, breaker: Breaker, direct: ThreadConnections) -> None:
        self.client = client
        self.breaker = breaker
        self.direct = direct
        self.script = client.register_script(INCR_WITH_TTL)
        self.together = not is_cluster(client)  # one script may touch keys of any slot

    def count(self, key: str, window_ms: int, reads: Reads | None) -> tuple[int, int]:
        """Add one to a counter, starting its window when new: (count, milliseconds left). Carries
        the reads not yet sent when they can share the call. Raises on a Redis error."""
        extra = reads.keys if reads is not None and self.together and reads.values is None else []
        keys = [key, *extra]
        if self.direct.enabled:
            count, ttl_ms, *fetched = self._evalsha(keys, [window_ms, 1])
        else:
            count, ttl_ms, *fetched = self.script(keys, [window_ms, 1])
        if extra and reads is not None:
            reads.values = dict(zip(extra, fetched, strict=True))
        return int(count), int(ttl_ms)

    def fetch(self, reads: Reads) -> None:
        """Read what no counter carried, in one MGET (per slot on a cluster); on a Redis error the
        values stay unread (each step then reads or bypasses on its own)."""
        if reads.values is not None or not reads.keys or not self.breaker.allow():
            return
        try:
            client = self.client
            if isinstance(client, RedisCluster):
                values = client.mget_nonatomic(reads.keys)
            else:
                values = client.mget(reads.keys)
        except Exception as exc:
            log.warning("reading the request's keys failed (%s)", exc.__class__.__name__)
            self.breaker.trip()
            return
        reads.values = dict(zip(reads.keys, values, strict=True))

    def _evalsha(self, keys: list[str], args: list[int]) -> list[Any]:
        """The script on this thread's own connection (the one command a cached GET sends). An
        unknown script (a Redis that restarted, a SCRIPT FLUSH) is loaded again, as the
        client's Script object would."""
        try:
            reply: list[Any] = self.direct.execute("EVALSHA", self.script.sha, len(keys), *keys, *args)
        except NoScriptError:
            self.script.sha = self.client.script_load(INCR_WITH_TTL)
            reply = self.direct.execute("EVALSHA", self.script.sha, len(keys), *keys, *args)
        return reply
