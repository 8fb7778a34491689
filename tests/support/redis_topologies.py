"""Private Redis topologies for the tests, from the redis-server binary on free loopback ports.

Each context manager starts its processes in a temporary directory, waits (bounded) until the
topology is usable, yields its `redis.url`, and stops every process it started by PID. The
machine's own Redis (6379) is never touched.
"""

from __future__ import annotations

import functools
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support import processes
from tests.support.processes import free_port
from tests.support.services import require_service

SERVICE = "inkwell"


def require_redis_binaries() -> None:
    for binary in ("redis-server", "redis-cli"):
        if shutil.which(binary) is None:
            require_service(binary, "not installed")


# A Redis still starting, or failing over, answers with errors: those count as "not yet".
wait_until = functools.partial(processes.wait_until, ignoring=(redis.RedisError, OSError))


def _port_pair_free() -> int:
    """A free port whose cluster bus port (+10000) is free as well."""
    for _ in range(50):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@contextmanager
def _process(args: list[str], directory: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    log = open(directory / f"{name}.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(args, cwd=directory, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)
        log.close()


def _server_args(port: int, *extra: str) -> list[str]:
    no_disk = ["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"]
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", *no_disk, *extra]


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=0.5, decode_responses=True)


@contextmanager
def cluster(masters: int = 3) -> Iterator[str]:
    """`masters` cluster nodes, all slots assigned: yields redis+cluster://host:port,…"""
    require_redis_binaries()
    ports = [_port_pair_free() for _ in range(masters)]
    with tempfile.TemporaryDirectory(prefix="inkwell-cluster-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        for port in ports:
            args = _server_args(
                port,
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", "2000",
            )  # fmt: skip
            stack.enter_context(_process(args, directory, f"node-{port}"))
        for port in ports:
            wait_until(lambda p=port: _client(p).ping(), f"node {port} up")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        for port in ports:
            wait_until(
                lambda p=port: (
                    redis.Redis(port=p, socket_timeout=0.5).cluster("info")["cluster_state"] == "ok"
                ),
                f"cluster_state ok on {port}",
            )
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)


@dataclass
class SentinelSet:
    url: str
    master_port: int
    replica_port: int
    sentinel_ports: list[int] = field(default_factory=list)

    def sentinel(self) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[0], socket_timeout=1, decode_responses=True)

    def master_port_now(self) -> int:
        return int(self.sentinel().sentinel_get_master_addr_by_name(SERVICE)[1])


@contextmanager
def sentinel() -> Iterator[SentinelSet]:
    """A master, one replica and 3 sentinels (quorum 2): yields the set and its redis+sentinel:// URL."""
    require_redis_binaries()
    master, replica = free_port(), free_port()
    sentinels = [free_port() for _ in range(3)]
    with tempfile.TemporaryDirectory(prefix="inkwell-sentinel-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        stack.enter_context(_process(_server_args(master), directory, "master"))
        # Writable, so that a test can make it lose a write its master acknowledged.
        replica_args = _server_args(
            replica, "--replicaof", "127.0.0.1", str(master), "--replica-read-only", "no"
        )
        stack.enter_context(_process(replica_args, directory, "replica"))
        wait_until(
            lambda: (
                redis.Redis(port=replica, socket_timeout=0.5).info("replication")["master_link_status"]
                == "up"
            ),
            "replica in sync",
        )
        for port in sentinels:
            conf = directory / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {master} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 4000\n"
            )
            stack.enter_context(
                _process(["redis-server", str(conf), "--sentinel"], directory, f"sentinel-{port}")
            )

        def sentinels_ready() -> bool:
            for port in sentinels:
                state = redis.Redis(port=port, socket_timeout=0.5, decode_responses=True).sentinel_master(
                    SERVICE
                )
                if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                    return False
            return True

        wait_until(sentinels_ready, "sentinels see the replica and each other", timeout=30)
        url = "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in sentinels) + f"/{SERVICE}/0"
        yield SentinelSet(url, master, replica, sentinels)
