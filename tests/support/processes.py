"""Ports, waiting and stopping: what every test that starts a process needs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    check: Callable[[], Any], what: str, timeout: float = 20.0, *, ignoring: tuple[type[Exception], ...] = ()
) -> None:
    """Poll `check` until it is true; TimeoutError naming `what` after `timeout` seconds. An
    exception of the `ignoring` kinds counts as not yet (a server still starting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except ignoring:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout:g} s")
        time.sleep(0.05)


def stop_pid(proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM) -> None:
    """Signal one process we started and reap it; SIGKILL if it outlives 20 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group `proc` leads (started with start_new_session), SIGKILL after 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
