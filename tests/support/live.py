"""Real servers for integration tests: `flask --app app serve` in a subprocess, stopped by PID."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.processes import free_port, stop_group

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "app"]


def app_env(database_url: str, **settings: str) -> dict[str, str]:
    """Environment for a server process: APP_<SECTION>__<KEY> overrides, test secret, no limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(
        APP_ENV="test",
        APP_DATABASE__URL=database_url,
        APP_AUTH__SECRET_KEY="test-secret-key-that-is-long-enough-for-hs256",
        APP_REDIS__URL="",
        APP_RATE_LIMIT__ENABLED="false",
    )
    env.update(settings)
    return env


def flask_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLASK, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=True
    )


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]  # the master: signal it by proc.pid
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()

    def workers(self) -> list[int]:
        """The master's children (the workers), by PID."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


@contextmanager
def serve_process(
    env: dict[str, str], *, workers: int = 1, threads: int = 8, startup: float = 30
) -> Iterator[Served]:
    """Start waitress with `workers` processes; yield it once healthy; kill the process group after."""
    port = free_port()
    (ROOT / "var").mkdir(exist_ok=True)
    log_path = ROOT / "var" / f"live-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [
            *FLASK,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited early: {log_path.read_text()[-2000:]}")
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become healthy in time")
            time.sleep(0.1)
        if workers > 1:
            time.sleep(1.0)  # the other workers bind their SO_REUSEPORT sockets within this time
        yield Served(base, proc, log_path)
    finally:
        stop_group(proc)
        log.close()


@contextmanager
def live_server(
    env: dict[str, str], *, workers: int = 1, threads: int = 8, startup: float = 30
) -> Iterator[str]:
    """Start waitress with `workers` processes; yield the base URL; kill the process group after."""
    with serve_process(env, workers=workers, threads=threads, startup=startup) as served:
        yield served.base
