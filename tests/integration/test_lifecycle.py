"""The server's lifecycle, on real processes: SIGHUP replaces the workers under load without failing
a request or dropping a connection; SIGTERM finishes the request in flight (and no more than
server.graceful_timeout_seconds), then exits 0; a crashing worker comes back with a growing delay."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from tests.support.live import FLASK, ROOT, Served, app_env, serve_process
from tests.support.load import Load, user_and_post
from tests.support.processes import stop_group, wait_until

pytestmark = pytest.mark.server


def healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def reloaded(served: Served, drained: int) -> bool:
    """That many old workers have drained and exited: two workers are left."""
    return served.log().count("drained in") == drained and len(served.workers()) == 2


def test_sighup_under_load_fails_no_request_and_drops_no_connection(sqlite_url):
    with serve_process(app_env(sqlite_url), workers=2) as served:
        headers, post_id = user_and_post(served.base)
        before = set(served.workers())
        with Load(served.base, post_id, headers, threads=4) as load:
            time.sleep(2)
            os.kill(served.proc.pid, signal.SIGHUP)
            wait_until(lambda: reloaded(served, 2), "the first reload did not finish", 30)
            middle = set(served.workers())
            time.sleep(1)
            os.kill(served.proc.pid, signal.SIGHUP)
            wait_until(lambda: reloaded(served, 4), "the second reload did not finish", 30)
            time.sleep(1)
        after = set(served.workers())
        print("outcomes:", load.summary(), "of", len(load.outcomes))
        assert len(load.outcomes) > 200
        assert {o.status for o in load.outcomes} <= {200, 201}, load.summary()
        assert [o for o in load.outcomes if o.error is not None] == []
        assert len(before) == len(middle) == len(after) == 2
        assert not before & middle and not middle & after  # every worker was replaced, twice
        assert served.proc.poll() is None


def send_half(served: Served, post_id: int, headers: dict[str, str]) -> tuple[socket.socket, bytes]:
    """A POST whose body is not all sent yet: a request in flight, as a slow client makes one."""
    body = json.dumps({"content": "a slowly sent comment"}).encode()
    port = int(served.base.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    head = (
        f"POST /api/v1/posts/{post_id}/comments HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {headers['Authorization']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:10])
    return sock, body[10:]


def read_response(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_sigterm_finishes_the_request_in_flight_then_exits_0(sqlite_url):
    env = app_env(sqlite_url, APP_SERVER__GRACEFUL_TIMEOUT_SECONDS="20")
    with serve_process(env, workers=1) as served:
        headers, post_id = user_and_post(served.base)
        sock, rest = send_half(served, post_id, headers)
        probe = requests.Session()
        assert probe.get(f"{served.base}/readyz", timeout=5).status_code == 200
        os.kill(served.proc.pid, signal.SIGTERM)
        # On a connection it already had, the draining worker says it is not ready, and closes it.
        while (ready := probe.get(f"{served.base}/readyz", timeout=5)).status_code == 200:
            time.sleep(0.05)
        assert ready.status_code == 503
        assert ready.json()["checks"]["server"] == "fail"
        assert ready.headers["Connection"] == "close"
        # It accepts nothing new ...
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{served.base}/healthz", timeout=5)
        time.sleep(1.5)  # ... and waits for the slow client, longer than an idle connection
        assert served.proc.poll() is None
        sock.sendall(rest)
        response = read_response(sock)
        sock.close()
        assert response.startswith(b"HTTP/1.1 201 "), response[:300]
        assert served.proc.wait(timeout=10) == 0
        assert "drained in" in served.log()
    with serve_process(env, workers=1) as again:
        comments = requests.get(f"{again.base}/api/v1/posts/{post_id}/comments", timeout=10).json()
        assert [c["content"] for c in comments["items"]] == ["a slowly sent comment"]


def test_sigterm_gives_up_on_a_request_after_the_graceful_timeout(sqlite_url):
    env = app_env(sqlite_url, APP_SERVER__GRACEFUL_TIMEOUT_SECONDS="1")
    with serve_process(env, workers=1) as served:
        headers, post_id = user_and_post(served.base)
        sock, _rest = send_half(served, post_id, headers)  # never finished
        time.sleep(0.2)
        started = time.monotonic()
        os.kill(served.proc.pid, signal.SIGTERM)
        assert served.proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 4
        assert read_response(sock) == b""  # closed without an answer: the client gave too little
        sock.close()
        assert "still busy after 1 s" in served.log()


def test_a_crashing_worker_restarts_with_growing_delays(sqlite_url):
    with serve_process(app_env(sqlite_url), workers=1) as served:
        delays = []
        for expected in ("0.5", "1.0", "2.0"):
            (worker,) = served.workers()
            os.kill(worker, signal.SIGKILL)
            wait_until(
                lambda e=expected: f"restarting in {e} s" in served.log(), f"no {expected} s backoff", 10
            )
            delays.append(expected)
            wait_until(lambda w=worker: served.workers() not in ([], [w]), "the worker did not come back", 15)
            wait_until(lambda: healthy(served.base), "the server did not answer again", 15)
        assert delays == ["0.5", "1.0", "2.0"]


def test_a_new_release_takes_over_the_port_without_refusing_a_request(sqlite_url):
    """Deploying on one host: the new `serve` starts on the same port (SO_REUSEPORT), then the old
    one is sent SIGTERM; the clients never notice."""
    env = app_env(sqlite_url)
    with serve_process(env, workers=2) as old:
        headers, post_id = user_and_post(old.base)
        port = old.base.rsplit(":", 1)[1]
        log_path = ROOT / "var" / f"live-{port}-new.log"
        started: list[subprocess.Popen[bytes]] = []
        try:
            with Load(old.base, post_id, headers, threads=4) as load, open(log_path, "w") as log:
                time.sleep(1)
                started.append(
                    subprocess.Popen(
                        [*FLASK, "serve", "--host", "127.0.0.1", "--port", port, "--workers", "2"],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                wait_until(
                    lambda: log_path.read_text().count("serving on") == 2, "the new release is not up", 30
                )
                os.kill(old.proc.pid, signal.SIGTERM)
                assert old.proc.wait(timeout=30) == 0
                time.sleep(1)
            # The new release drains and exits cleanly too.
            for new in started:
                new.send_signal(signal.SIGTERM)
                assert new.wait(timeout=30) == 0
        finally:
            for new in started:  # whatever failed above: nothing of the new release is left running
                stop_group(new)
        print("outcomes:", load.summary(), "of", len(load.outcomes))
        assert len(load.outcomes) > 200
        assert {o.status for o in load.outcomes} <= {200, 201}, load.summary()
        assert [o for o in load.outcomes if o.error is not None] == []


def test_serve_exits_1_when_a_worker_cannot_start(sqlite_url):
    with socket.socket() as taken:  # a plain listener, without SO_REUSEPORT: the port is not shareable
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*FLASK, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=app_env(sqlite_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "Address already in use" in result.stderr
