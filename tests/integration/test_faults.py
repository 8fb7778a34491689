"""Faults under load: `serve --workers 2` on a private PostgreSQL and a private Redis while a bounded
load runs; Redis is killed and restarted, PostgreSQL stopped and started, a worker SIGKILLed.

Expected: never a 500; 503 (problem+json, Retry-After) only while PostgreSQL is down; X-Cache:
BYPASS while Redis is down and HITs again after; every comment that got a 201 is there afterwards;
no connection dropped except requests the killed worker had in flight (at most one per load
thread, since each thread has one request outstanding at a time).
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from tests.support.live import app_env, flask_cli, serve_process
from tests.support.load import Load, Outcome, user_and_post
from tests.support.private import private_postgres, private_redis

pytestmark = pytest.mark.server

THREADS = 4
RECOVERY_SECONDS = 3.0  # after PostgreSQL accepts again, 503s may finish within this


def during(outcome: Outcome, start: float, end: float) -> bool:
    return outcome.ended >= start and outcome.started <= end


def test_faults_under_load_never_500_and_recover():
    with private_postgres() as pg, private_redis() as cache:
        env = app_env(pg.url, APP_REDIS__URL=cache.url, APP_SERVER__GRACEFUL_TIMEOUT_SECONDS="5")
        flask_cli(["db-upgrade"], env)
        with serve_process(env, workers=2) as served:
            base = served.base
            headers, post_id = user_and_post(base)
            first_workers = served.workers()
            assert len(first_workers) == 2

            marks: dict[str, float] = {}
            with Load(base, post_id, headers, threads=THREADS) as load:
                time.sleep(3)
                marks["redis killed"] = time.monotonic()
                cache.kill()
                time.sleep(4)
                cache.start()
                marks["redis back"] = time.monotonic()
                time.sleep(3)
                marks["pg stopping"] = time.monotonic()
                pg.stop()
                time.sleep(4)
                pg.start()
                marks["pg back"] = time.monotonic()
                time.sleep(4)
                marks["worker killed"] = time.monotonic()
                os.kill(first_workers[0], signal.SIGKILL)
                time.sleep(5)
            outcomes = load.outcomes
            print("outcomes:", load.summary(), "of", len(outcomes))

            # Never a 500; nothing but 200, 201 and 503 (or a dropped connection).
            assert {o.status for o in outcomes} <= {200, 201, 503, None}, load.summary()
            # 503 only while PostgreSQL is down, always a problem with Retry-After.
            outage = (marks["pg stopping"], marks["pg back"] + RECOVERY_SECONDS)
            unavailable = [o for o in outcomes if o.status == 503]
            assert unavailable, "the PostgreSQL outage was never seen"
            assert all(during(o, *outage) for o in unavailable), [
                (round(o.started - marks["pg stopping"], 2), o.kind)
                for o in unavailable
                if not during(o, *outage)
            ]
            assert all(o.retry_after and o.media_type == "application/problem+json" for o in unavailable)
            late = [o.ended - marks["pg back"] for o in unavailable if o.ended > marks["pg back"]]
            print(
                "503s:",
                len(unavailable),
                "last one ended",
                round(max(late, default=0), 2),
                "s after recovery",
            )

            # Redis down: the cache is bypassed, never a HIT; back: HITs again by themselves.
            redis_down = [
                o
                for o in outcomes
                if o.status == 200
                and o.started > marks["redis killed"] + 0.3
                and o.ended < marks["redis back"]
            ]
            assert redis_down and all(o.cache != "HIT" for o in redis_down)
            assert any(o.cache == "BYPASS" for o in redis_down)
            assert any(
                o.cache == "HIT"
                for o in outcomes
                if marks["redis back"] + 2 < o.started < marks["pg stopping"]
            )

            # Dropped connections: only around the SIGKILL, at most one per load thread.
            dropped = [o for o in outcomes if o.error is not None]
            assert {o.error for o in dropped} <= {"connection"}
            print("dropped:", [(o.error, round(o.started - marks["worker killed"], 3)) for o in dropped])
            assert len(dropped) <= THREADS
            assert all(during(o, marks["worker killed"] - 0.1, marks["worker killed"] + 2) for o in dropped)

            # The killed worker was replaced (after the first backoff step), and every request
            # after that answered normally.
            assert len(served.workers()) == 2 and first_workers[0] not in served.workers()
            assert "restarting in 0.5 s" in served.log()
            tail = [o for o in outcomes if o.started > marks["worker killed"] + 2]
            assert tail and all(o.status in (200, 201) for o in tail)

            # Correct answers afterwards: every comment that got a 201 is there, counted.
            created = {o.comment_id for o in outcomes if o.comment_id is not None}
            assert created
            listed: set[int] = set()
            page = 1
            while True:
                response = requests.get(
                    f"{base}/api/v1/posts/{post_id}/comments?per_page=100&page={page}", timeout=10
                )
                assert response.status_code == 200
                listed |= {c["id"] for c in response.json()["items"]}
                if page >= response.json()["pages"]:
                    break
                page += 1
            assert created <= listed
            detail = requests.get(f"{base}/api/v1/posts/{post_id}", timeout=10).json()
            assert detail["comment_count"] == len(listed)
            log = served.log()
            assert "unhandled error" not in log and "Exception while serving" not in log
