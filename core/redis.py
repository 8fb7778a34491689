"""The shared Redis client for one of three topologies, chosen by `redis.url` alone.

- `redis://` / `rediss://` (TLS) / `unix://`: one server (redis-py's from_url).
- `redis+sentinel://host:port[,host:port…]/service_name[/db]`: the master of `service_name`,
  found through the sentinels, and found again after a failover.
- `redis+cluster://host:port[,host:port…][/0]`: a Redis Cluster from its startup nodes.

Credentials in the URL (`user:password@`) are the data nodes' (master, cluster nodes), not the
sentinels'. Empty `redis.url`: None (in-process cache and limits).
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import unquote

from redis import ConnectionPool, Redis, RedisError
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import Connection
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from core.settings import Settings

# The shared client: one server or Sentinel (Redis), or a cluster (RedisCluster).
RedisClient = Redis | RedisCluster
SENTINEL = "redis+sentinel://"
CLUSTER = "redis+cluster://"


def make_redis(settings: Settings) -> RedisClient | None:
    url = settings.redis.url
    if not url:
        return None
    timeout = settings.redis.socket_timeout_seconds
    # Short timeouts and one immediate retry: a dead Redis costs milliseconds per request, never
    # a hung worker (redis-py's default retries for seconds); the breaker handles the rest.
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 1),
    }
    if url.startswith(SENTINEL):
        nodes, path, auth = _split(url, SENTINEL)
        service, _, db = path.partition("/")
        if not service:
            raise ValueError("redis.url: redis+sentinel:// needs a service name: …/service_name[/db]")
        sentinel = Sentinel(nodes, sentinel_kwargs=options)  # a dead sentinel is skipped at once
        master: Redis = sentinel.master_for(
            service, db=int(db or 0), health_check_interval=30, **auth, **options
        )
        return master
    if url.startswith(CLUSTER):
        nodes, path, auth = _split(url, CLUSTER)
        if path not in ("", "0"):
            raise ValueError("redis.url: a Redis Cluster has database 0 only")
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes], **auth, **options
        )
    return Redis.from_url(url, health_check_interval=30, **options)


def _split(url: str, scheme: str) -> tuple[list[tuple[str, int]], str, dict[str, Any]]:
    """`scheme[user:password@]host:port,host:port/path` -> ([(host, port)…], path, credentials)."""
    netloc, _, path = url.removeprefix(scheme).partition("/")
    userinfo, _, hosts = netloc.rpartition("@")
    auth: dict[str, Any] = {}
    if userinfo:
        user, _, password = userinfo.partition(":")
        if user:
            auth["username"] = unquote(user)
        if password:
            auth["password"] = unquote(password)
    nodes = []
    for host_port in hosts.split(","):
        host, _, port = host_port.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"redis.url: {host_port!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    return nodes, path.strip("/"), auth


def is_cluster(client: RedisClient | None) -> bool:
    """On a cluster, keys of different hash slots never share a script or a multi-key read."""
    return isinstance(client, RedisCluster)


def server_of(client: RedisClient, key: str) -> str:
    """The server that holds `key` now: a cache entry written on another one is not trusted.

    After a failover the new master may lack the last namespace bumps the old one acknowledged;
    stamping entries with their server makes everything written before it unreachable, in every
    process, with no extra round trip. One server (`redis://`): "" (see ResponseCache.lookup).
    """
    if isinstance(client, RedisCluster):  # a pool per node, none of its own
        node: str = client.get_node_from_key(key).name
        return node
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool) and pool.master_address is not None:
        host, port = pool.master_address
        return f"{host}:{port}"
    return ""


class ThreadConnections:
    """Commands sent straight on this server thread's own connection to a single server.

    The two commands of the hot path (the limiter's EVALSHA, the cache's SET of a miss) go
    through it: redis-py's client spends about as much CPU around each (pool checkout, retry
    wrapper, option parsing, response callbacks) as the command's own two syscalls take (figures
    in docs/performance.md). What the client would do is kept: a dropped connection is reconnected and the
    command retried once (its Retry(NoBackoff(), 1), see make_redis). What is not: the pool's
    idle health check (a PING after 30 s idle); a stale socket fails the first send and the
    retry reconnects, and a half-open one costs one socket timeout before it does.

    One server only (`enabled`): a cluster routes each command by slot, and a Sentinel pool
    must be able to move every connection to a newly elected master. Callers use the client
    when it is not enabled.
    """

    # Shared by the server's threads: each thread has its own connection (threading.local).
    def __init__(self, client: Any) -> None:
        self.client = client
        self.enabled = (
            client is not None and not is_cluster(client) and type(client.connection_pool) is ConnectionPool
        )
        self._threads = threading.local()

    def own(self) -> Connection:
        """This thread's connection, made from the shared pool's settings on first use and
        kept for the thread's next request."""
        own = getattr(self._threads, "connection", None)
        if own is None:
            own = self._threads.connection = self.client.connection_pool.make_connection()
        return own  # type: ignore[no-any-return]

    def execute(self, *args: Any) -> Any:
        connection = self.own()
        command = connection.pack_command(*args)
        try:
            return self._send(connection, command)
        except (ConnectionError, TimeoutError):
            # The connection has disconnected itself; sending again reconnects it.
            return self._send(connection, command)

    @staticmethod
    def _send(connection: Connection, command: list[bytes]) -> Any:
        connection.send_packed_command(command, check_health=False)
        return connection.read_response()


class MasterWatch:
    """Sentinel: asks the sentinels for the master at most every `interval` seconds.

    A manual failover leaves the old master accepting writes until the sentinels reconfigure it
    (up to ~10 s later); a process still talking to it would miss what others now write to the
    new one. Asking keeps that window to `interval`, at one sentinel round trip per interval
    per process; a new address makes the pool drop its connections to the old master.
    """

    # Shared by the server's threads: two may ask the sentinels at once; a new master is
    # reported to at least one, and the versions then recover for the whole process.
    def __init__(self, client: Any, interval: float = 1.0) -> None:
        pool = getattr(client, "connection_pool", None)
        self.pool = pool if isinstance(pool, SentinelConnectionPool) else None
        self.interval = interval
        self._known: tuple[str, int] | None = None
        self._next = 0.0

    def moved(self) -> bool:
        """True once after the master changed (never on the first look)."""
        if self.pool is None or time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self.interval
        try:
            address = self.pool.get_master_address()
        except RedisError:  # no sentinel answers: keep the master we have
            return False
        known, self._known = self._known, address
        return known is not None and known != address


def check(client: RedisClient) -> None:
    """Readiness of the topology; raises when it cannot serve.

    Sentinel: the sentinels name a master, and it answers. Cluster: the cluster says it is ok
    (every slot served), and every master answers.
    """
    if isinstance(client, RedisCluster):
        if client.cluster_info().get("cluster_state") != "ok":
            raise ConnectionError("cluster_state is not ok")
        client.ping(target_nodes=RedisCluster.PRIMARIES)
        return
    if isinstance(client.connection_pool, SentinelConnectionPool):
        client.connection_pool.get_master_address()  # asks the sentinels (MasterNotFoundError)
    client.ping()


class Breaker:
    """A tiny circuit breaker: after a Redis failure, skip Redis for `cooldown` seconds.

    A dead Redis then costs one timed-out call per cooldown per process instead of one per
    request; the first call after the cooldown is the probe, and success closes it again.
    `trips` counts the failures, so the cache knows it must invalidate everything it may have
    missed before serving again.
    """

    # Shared by the server's threads: two trips racing may count as one, which still changes
    # `trips`, all a recovery needs to see.
    def __init__(self, cooldown: float = 1.5) -> None:
        self.cooldown = cooldown
        self.trips = 0
        self._open_until = 0.0

    def allow(self) -> bool:
        return time.monotonic() >= self._open_until

    def trip(self) -> None:
        self.trips += 1
        self._open_until = time.monotonic() + self.cooldown
