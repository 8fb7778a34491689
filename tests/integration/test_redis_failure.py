"""Redis dies mid-run (a private redis-server): the API keeps serving, then recovers by itself."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
import requests

from tests.support.live import app_env, live_server
from tests.support.processes import free_port, wait_until
from tests.support.services import require_service


@contextmanager
def private_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_connect_timeout=0.2)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.server
def test_redis_outage_and_recovery(sqlite_url):
    if shutil.which("redis-server") is None:
        require_service("redis-server", "not installed")
    port = free_port()
    env = app_env(
        sqlite_url,
        APP_REDIS__URL=f"redis://127.0.0.1:{port}/0",
        APP_RATE_LIMIT__ENABLED="true",
        APP_RATE_LIMIT__ANONYMOUS="40/minute",
    )
    with live_server(env, workers=1) as base:
        items = f"{base}/api/v1/items"
        with private_redis(port):
            assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
            assert requests.get(items, timeout=5).headers["X-Cache"] == "MISS"
            assert requests.get(items, timeout=5).headers["X-Cache"] == "HIT"
        # Redis is gone.
        statuses, caches = [], set()
        for _ in range(45):
            response = requests.get(items, timeout=5)
            statuses.append(response.status_code)
            caches.add(response.headers.get("X-Cache"))
        assert 500 not in statuses
        assert caches <= {"BYPASS", None}  # None: the refused ones
        # Limits still hold, counted in this process (2 were spent on the shared Redis).
        assert statuses.count(200) == 40 and statuses.count(429) == 5, statuses
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] == "fail"
        # It comes back on the same port: cache and readiness resume by themselves.
        with private_redis(port):
            wait_until(lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 200, "ready", 15)
            wait_until(lambda: requests.get(f"{base}/healthz", timeout=5).status_code == 200, "healthy", 15)
            wait_until(
                lambda: (
                    requests.get(f"{base}/api/v1/items?page=1", timeout=5).headers.get("X-Cache")
                    in ("HIT", "MISS")
                ),
                "the cache back on Redis",
                15,
            )
