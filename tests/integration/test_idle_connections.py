"""Idle connections on real sockets: however many a client holds, the worker survives, other clients
are served, a keep-alive client keeps its connection, and idle ones are closed after
server.idle_timeout_seconds. Client addresses are distinct loopback addresses (127.0.0.0/8)."""

from __future__ import annotations

import resource
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.live import FLASK, ROOT, Served, app_env, serve_process
from tests.support.processes import free_port

pytestmark = pytest.mark.server


@contextmanager
def idle_connections(port: int, sources: list[str], each: int) -> Iterator[list[socket.socket]]:
    """`each` connections from every source address, sending nothing; all closed afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = len(sources) * each + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    socks: list[socket.socket] = []
    try:
        for source in sources:
            for _ in range(each):
                sock = socket.socket()
                sock.bind((source, 0))
                sock.settimeout(5)
                sock.connect(("127.0.0.1", port))
                socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def closed_by_server(socks: list[socket.socket], within: float) -> set[socket.socket]:
    """The sockets the server closed (EOF or reset) within `within` seconds."""
    closed: set[socket.socket] = set()
    by_fd = {sock.fileno(): sock for sock in socks}
    poller = select.poll()  # select() cannot watch a descriptor past 1023
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + within
    while len(closed) < len(socks) and time.monotonic() < deadline:
        for fd, _event in poller.poll(200):
            sock = by_fd[fd]
            poller.unregister(fd)
            try:
                if sock.recv(1) == b"":
                    closed.add(sock)
            except OSError:
                closed.add(sock)
    return closed


class KeepAlive:
    """One HTTP/1.1 connection from `source`, reused for every request."""

    def __init__(self, port: int, source: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((source, 0))
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))

    def get(self, path: str) -> int:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            assert chunk, "the server closed the keep-alive connection"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += self.sock.recv(65536)
        return int(head.split(b" ", 2)[1])

    def close(self) -> None:
        self.sock.close()


def port_of(served: Served) -> int:
    return int(served.base.rsplit(":", 1)[1])


def test_connections_past_descriptor_1023_leave_the_worker_serving(sqlite_url):
    """select() failed on a descriptor past 1023 and the worker exited; 1,200 idle connections
    from six addresses (each under its cap) now leave the same worker answering everyone."""
    env = app_env(sqlite_url, APP_SERVER__CONNECTION_LIMIT="2000")
    with serve_process(env) as served:
        (worker,) = served.workers()
        port = port_of(served)
        sources = [f"127.0.0.{n}" for n in range(2, 8)]
        with idle_connections(port, sources, 200) as socks:
            time.sleep(1.0)  # the worker accepts them all
            client = KeepAlive(port, "127.0.0.100")
            try:
                assert client.get("/healthz") == 200
            finally:
                client.close()
            assert closed_by_server(socks[-50:], within=0.5) == set()  # none dropped
        assert served.workers() == [worker]
        assert "ValueError" not in served.log()


def test_idle_connections_are_closed_and_one_address_cannot_hold_them_all(sqlite_url):
    env = app_env(
        sqlite_url,
        APP_SERVER__IDLE_TIMEOUT_SECONDS="2",
        APP_SERVER__MAX_CONNECTIONS_PER_ADDRESS="20",
    )
    with serve_process(env) as served:
        port = port_of(served)
        keep_alive = KeepAlive(port, "127.0.0.3")
        try:
            with idle_connections(port, ["127.0.0.2"], 30) as socks:
                # Past the cap, connections are closed as they are accepted.
                over = closed_by_server(socks, within=1.0)
                assert len(over) == 10
                # A client that keeps using its connection keeps it, and other addresses are served.
                started = time.monotonic()
                while time.monotonic() - started < 5:
                    assert keep_alive.get("/healthz") == 200
                    time.sleep(0.5)
                # The idle ones were closed: the timeout is 2 s, swept every second.
                idle = [s for s in socks if s not in over]
                assert closed_by_server(idle, within=5.0) == set(idle)
            # Their slots are free again: the same address connects and is served.
            again = KeepAlive(port, "127.0.0.2")
            try:
                assert again.get("/healthz") == 200
            finally:
                again.close()
        finally:
            keep_alive.close()


def test_a_connection_limit_the_descriptor_limit_cannot_hold_stops_start_up(sqlite_url):
    """Checked at start: a worker out of descriptors would fail every accept() instead."""

    def low_hard_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    env = app_env(sqlite_url, APP_SERVER__CONNECTION_LIMIT="1000", APP_SERVER__PORT=str(free_port()))
    done = subprocess.run(
        [*FLASK, "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=low_hard_limit,
    )
    assert done.returncode != 0
    assert "server.connection_limit = 1000 needs 1256 file descriptors" in done.stderr
    assert "Traceback" not in done.stderr
