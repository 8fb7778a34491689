"""`make bench-steps`: microseconds per pipeline step of a cached GET, in-process.

Wraps each step of web/pipeline.py with a timer and sends N cached GETs of one post through
the WSGI app (no socket, no waitress): anonymous, with an API key and with a bearer token, with
the production logging and limits on a local Redis. The timers add ~1 us per step; the rows
show where a cache hit spends its time, the total what a request costs inside Flask.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from app import create_app  # noqa: E402
from core.migrations import upgrade_database  # noqa: E402
from core.settings import Settings  # noqa: E402
from web import access, http, pipeline, telemetry  # noqa: E402

PASSWORD = "bench-password-1"


def build(db: Path) -> Any:
    upgrade_database(f"sqlite:///{db}")
    os.environ.update(
        APP_ENV="production",
        APP_AUTH__SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnop",
        APP_DATABASE__URL=f"sqlite:///{db}",
        APP_REDIS__URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        APP_REDIS__KEY_PREFIX=f"bench-steps-{os.getpid()}",
        APP_RATE_LIMIT__ANONYMOUS="100000000/minute",
        APP_RATE_LIMIT__AUTHENTICATED="100000000/minute",
        APP_RATE_LIMIT__TIERS='{"standard": "100000000/minute"}',
    )
    app = create_app(Settings())
    # The access log still formats every line; only the bytes go nowhere.
    logging.getLogger("inkwell").handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    return app


def instrument(app: Any, spent: Counter[str]) -> None:
    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter_ns() - started

        return wrapper

    steps = app.pipeline
    access.authenticate = timed("2 authenticate", access.authenticate)
    access.confirm = timed("2 authenticate (confirm)", access.confirm)
    access.authorize = timed("4 authorize", access.authorize)
    steps.cache.plan = timed("5 response cache (plan)", steps.cache.plan)
    steps.limits.check = timed("3 rate limit (one Redis round trip)", steps.limits.check)
    steps.cache.lookup = timed("5 response cache (lookup)", steps.cache.lookup)
    steps.idempotency.begin = timed("6 idempotency", steps.idempotency.begin)
    steps._finish = timed("after: cache store, close", steps._finish)
    http.conditional_get = timed("10 conditional GET", http.conditional_get)
    http.common_headers = timed("11 headers", http.common_headers)
    pipeline.rate_headers = timed("11 headers (rate-limit values)", pipeline.rate_headers)
    telemetry.record = timed("12 telemetry (metrics, access log)", telemetry.record)
    steps.handle = timed("pipeline total", steps.handle)
    app.wsgi_app = timed("WSGI total (Flask request context included)", app.wsgi_app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5000, help="requests per credential")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = build(Path(tmp) / "steps.db")
        client = FlaskClient(app)
        user = {"username": "bench", "email": "bench@example.com", "password": PASSWORD}
        assert client.post("/api/v1/auth/register", json=user).status_code == 201
        login = {"username": "bench", "password": PASSWORD}
        token = client.post("/api/v1/auth/login", json=login).get_json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        key = client.post(
            "/api/v1/api-keys", json={"name": "b", "scopes": ["read"]}, headers=bearer
        ).get_json()["key"]
        post = client.post(
            "/api/v1/posts", json={"title": "t", "content": "c", "status": "published"}, headers=bearer
        ).get_json()
        url = f"/api/v1/posts/{post['id']}"
        print(f"{'step':44s} {'anonymous':>10s} {'API key':>10s} {'bearer':>10s}   (us per cached GET)")
        spent: Counter[str] = Counter()
        instrument(app, spent)
        cpu = [best_cpu_per_request(app, url, headers) for headers in ({}, {"X-API-Key": key}, bearer)]
        columns = []
        for headers in ({}, {"X-API-Key": key}, bearer):
            for _ in range(200):  # warm: remembered caller, cache entry, metric children
                client.get(url, headers=headers)
            spent.clear()
            for _ in range(args.n):
                response = client.get(url, headers=headers)
                assert response.headers.get("X-Cache") == "HIT", (
                    response.status_code,
                    response.get_data()[:300],
                )
            columns.append(dict(spent))

        def order(name: str) -> tuple[int, str]:
            first = name.split()[0]
            return (int(first) if first.isdigit() else 99, name)

        names = sorted(set().union(*columns), key=order)
        for name in names:
            cells = "".join(f"{c.get(name, 0) / args.n / 1000:10.1f} " for c in columns)
            print(f"{name:44s} {cells}")
        cells = "".join(f"{c:10.1f} " for c in cpu)
        print(f"{'CPU per request, untimed (best of 10 batches)':44s} {cells}")


def best_cpu_per_request(app: Any, url: str, headers: dict[str, str], batches: int = 10) -> float:
    """CPU µs per cached GET called straight through the WSGI app, as waitress calls it, before
    the steps are wrapped with timers: the best batch, since this VM's neighbours add noise."""
    environ = EnvironBuilder(
        path=url, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ).get_environ()

    def start_response(*_: Any) -> None:
        return None

    for _ in range(300):
        b"".join(app(dict(environ), start_response))
    best = float("inf")
    for _ in range(batches):
        started = time.process_time()
        for _ in range(1000):
            b"".join(app(dict(environ), start_response))
        best = min(best, (time.process_time() - started) / 1000 * 1e6)
    return best


if __name__ == "__main__":
    main()
