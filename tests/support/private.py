"""Private copies of the dependencies, for tests that stop, kill or front them: a PostgreSQL
cluster (initdb into a temp dir, its own port), a redis-server and a PgBouncer. Each is a child
process of the test, stopped by its PID; the machine's own services are never touched.

PostgreSQL and PgBouncer refuse to run as root: under root they run as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.support.processes import accepts, free_port, stop_pid, wait_until
from tests.support.services import require_service


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        require_service("a 'postgres' user", "PostgreSQL refuses to run as root")
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


@contextmanager
def _private_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class PrivatePostgres:
    bindir: Path
    data: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self._log = open(self.data.parent / "server.log", "ab")  # noqa: SIM115 - closed by close()

    def close(self) -> None:
        self.stop()
        self._log.close()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._log.flush()
        self.proc = subprocess.Popen(
            [
                str(self.bindir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data}",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=100",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            **_run_as(),
        )
        wait_until(self._ready, "the private PostgreSQL", 30)

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited: {(self.data.parent / 'server.log').read_text()[-2000:]}")
        result = subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
        )
        return result.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): sessions are terminated, as in a restart."""
        stop_pid(self.proc, signal.SIGINT)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindirs:
        require_service("PostgreSQL server binaries", "nothing in /usr/lib/postgresql/*/bin")
    bindir = Path(bindirs[-1])
    with _private_dir("inkwell-pg-") as root:
        data = root / "data"
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **_run_as(),
        )
        pg = PrivatePostgres(bindir, data, free_port())
        try:
            pg.start()
            yield pg
        finally:
            pg.close()


@dataclass
class PrivateRedis:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)

        def pong() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(pong, "the private redis-server", 10)

    def kill(self) -> None:
        stop_pid(self.proc, signal.SIGKILL)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        require_service("redis-server", "not installed")
    server = PrivateRedis(free_port())
    try:
        server.start()
        yield server
    finally:
        server.kill()


@dataclass
class PrivatePgBouncer:
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


def pgbouncer_binary() -> str:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"  # sbin: often not on a user's PATH
    if not os.path.exists(binary):
        require_service("pgbouncer", "not installed (make system-packages installs it)")
    return binary


@contextmanager
def private_pgbouncer(
    target_host: str, target_port: int, *, pool_size: int = 4
) -> Iterator[PrivatePgBouncer]:
    """PgBouncer in transaction pooling mode in front of any database of that server."""
    binary = pgbouncer_binary()
    with _private_dir("inkwell-pgbouncer-") as root:
        bouncer = PrivatePgBouncer(free_port())
        (root / "users.txt").write_text('"postgres" ""\n')
        (root / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={target_host} port={target_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {bouncer.port}
unix_socket_dir =
auth_type = trust
auth_file = {root / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {root / "pgbouncer.log"}
"""
        )
        for name in ("users.txt", "pgbouncer.ini"):
            os.chmod(root / name, 0o644)
        bouncer.proc = subprocess.Popen(
            [binary, str(root / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **_run_as(),
        )
        try:
            wait_until(lambda: accepts(bouncer.port), "the private pgbouncer", 15)
            yield bouncer
        finally:
            stop_pid(bouncer.proc, signal.SIGINT)
