"""Redis Cluster and Sentinel, each started here from redis-server on free loopback ports.

Against `serve --workers 2`: cache HITs, no stale read after a write (whichever worker answers),
an exact limit under concurrency, readiness of the topology; on Sentinel, a failover under load
with no 500 and no stale read after it. In-process: how many Redis round trips a cached GET costs.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import redis.connection
import requests

from app import create_app
from tests.support.http import PASSWORD, Api
from tests.support.live import ROOT, app_env, live_server
from tests.support.redis_topologies import SERVICE, SentinelSet, cluster, sentinel, wait_until
from tests.support.services import make_settings

LIMIT = 20
BURST = 60


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    with cluster() as url:
        yield url


@pytest.fixture(scope="module")
def sentinels() -> Iterator[SentinelSet]:
    with sentinel() as topology:
        yield topology


def server_env(sqlite_url: str, redis_url: str, prefix: str) -> dict[str, str]:
    return app_env(
        sqlite_url,
        APP_REDIS__URL=redis_url,
        APP_REDIS__KEY_PREFIX=prefix,
        # A loaded CI machine must not turn a slow reply into a (correct, but here unwanted) BYPASS.
        APP_REDIS__SOCKET_TIMEOUT_SECONDS="1",
        APP_RATE_LIMIT__ENABLED="true",
        APP_RATE_LIMIT__ANONYMOUS=f"{LIMIT}/minute",
        # Each phase speaks from its own address, so the phases' anonymous budgets are apart.
        APP_SERVER__TRUSTED_PROXY_COUNT="1",
    )


def addr(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}


READERS = itertools.count(100_000)


def reader() -> dict[str, str]:
    """A new anonymous reader per request: the reads' own budgets never run out."""
    return addr(next(READERS))


class Author:
    """A user with a published post, talking to a live server."""

    def __init__(self, base: str) -> None:
        self.base = base
        name = f"u{uuid.uuid4().hex[:8]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        requests.post(
            f"{base}/api/v1/auth/register", json=body, headers=addr(1), timeout=10
        ).raise_for_status()
        login = requests.post(
            f"{base}/api/v1/auth/login",
            json={"username": name, "password": PASSWORD},
            headers=addr(1),
            timeout=10,
        )
        self.auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        created = requests.post(
            f"{base}/api/v1/posts",
            json={"title": "v0", "content": "c", "status": "published"},
            headers=self.auth,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        self.path = f"{base}/api/v1/posts/{created.json()['id']}"

    def retitle(self, title: str) -> int:
        return requests.patch(self.path, json={"title": title}, headers=self.auth, timeout=10).status_code

    def assert_reads(self, title: str, *, cached: bool = True) -> None:
        """The detail and the list show `title`, through both workers (several reads each);
        `cached`: through the cache (HIT or MISS), never around it (BYPASS)."""
        for n in range(4):
            detail = requests.get(self.path, headers=reader(), timeout=5)
            listed = requests.get(f"{self.base}/api/v1/posts", headers=reader(), timeout=5)
            assert detail.json()["title"] == title, n
            assert listed.json()["items"][0]["title"] == title, n
            if cached:
                assert {detail.headers["X-Cache"], listed.headers["X-Cache"]} <= {"HIT", "MISS"}, n


def redis_warnings(base: str) -> list[str]:
    """What the server logged about failing Redis calls (cache, limits, idempotency)."""
    log = ROOT / "var" / f"live-{base.rsplit(':', 1)[1]}.log"
    pattern = re.compile(r" (WARNING|ERROR) inkwell\.(cache|limits|idempotency) ")
    return [line for line in log.read_text().splitlines() if pattern.search(line)]


def assert_cache_limits_and_readiness(base: str) -> Author:
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "ok", ready.text

    author = Author(base)
    first = requests.get(author.path, headers=reader(), timeout=5)
    assert first.headers["X-Cache"] == "MISS"
    # Both workers share the entry: whichever answers, it is a HIT now.
    for _ in range(4):
        hit = requests.get(author.path, headers=reader(), timeout=5)
        assert hit.headers["X-Cache"] == "HIT" and hit.content == first.content
    for round_ in range(1, 4):
        assert author.retitle(f"v{round_}") == 200
        author.assert_reads(f"v{round_}")

    # Idempotency-Key: the second POST is the first one's stored response, replayed.
    key = {"Idempotency-Key": uuid.uuid4().hex, **author.auth}
    body = {"title": "once", "content": "c"}
    first = requests.post(f"{base}/api/v1/posts", json=body, headers=key, timeout=10)
    again = requests.post(f"{base}/api/v1/posts", json=body, headers=key, timeout=10)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == first.json()

    # Exactly LIMIT of BURST concurrent requests from one (fresh) address get through.
    def get(_: int) -> int:
        return requests.get(f"{base}/api/v1/items", headers=addr(3), timeout=30).status_code

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        statuses = list(pool.map(get, range(BURST)))
    assert statuses.count(200) == LIMIT and statuses.count(429) == BURST - LIMIT, statuses
    # All of it on the topology: no Redis call failed over to the in-process fallbacks.
    assert not redis_warnings(base)
    return author


@pytest.mark.server
def test_cluster_cache_and_exact_limits(sqlite_url, cluster_url):
    env = server_env(sqlite_url, cluster_url, f"t{uuid.uuid4().hex[:8]}")
    with live_server(env, workers=2) as base:
        assert_cache_limits_and_readiness(base)


def fail_over(sentinels: SentinelSet) -> None:
    """SENTINEL FAILOVER; returns once the replica is the master (the old one follows later)."""
    old = sentinels.master_port_now()
    sentinels.sentinel().execute_command("SENTINEL", "FAILOVER", SERVICE)
    wait_until(lambda: sentinels.master_port_now() != old, "the replica promoted")
    wait_until(
        lambda: redis.Redis(port=sentinels.master_port_now()).info("replication")["role"] == "master",
        "the new master accepts writes",
    )


@pytest.mark.server
def test_sentinel_cache_limits_and_failover(sqlite_url, sentinels):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    env = server_env(sqlite_url, sentinels.url, prefix)
    with live_server(env, workers=2) as base:
        author = assert_cache_limits_and_readiness(base)

        # A bump the master acknowledged but never passed on, simulated: the title changes (the
        # master bumps the namespace, the replica follows), then the replica alone goes back to
        # the version before. Once promoted, it holds the old entry under the current version.
        requests.get(author.path, headers=reader(), timeout=5)
        assert requests.get(author.path, headers=reader(), timeout=5).headers["X-Cache"] == "HIT"
        assert author.retitle("lost bump") == 200
        assert redis.Redis(port=sentinels.master_port_now(), socket_timeout=2).wait(1, 2000) == 1
        replica = redis.Redis(port=sentinels.replica_port, socket_timeout=2)
        replica.decr(f"{prefix}:cache:{{posts}}:v")

        # Fail over under a light load of reads and writes (new users: the posts stay as they
        # are), from two threads: no 500, no dropped connection.
        statuses: list[int] = []
        failures: list[Exception] = []
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                name = f"l{uuid.uuid4().hex[:10]}"
                body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
                try:
                    for response in (
                        requests.get(author.path, headers=reader(), timeout=10),
                        requests.get(f"{base}/api/v1/items", headers=reader(), timeout=10),
                        requests.post(
                            f"{base}/api/v1/auth/register", json=body, headers=reader(), timeout=10
                        ),
                    ):
                        statuses.append(response.status_code)
                except requests.RequestException as exc:
                    failures.append(exc)
                time.sleep(0.02)

        threads = [threading.Thread(target=load) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            fail_over(sentinels)
            time.sleep(1.5)  # every worker asks the sentinels within 1 s (MasterWatch)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=15)
        assert not failures, failures[:3]
        counts = {status: statuses.count(status) for status in set(statuses)}
        assert len(statuses) > 30 and set(counts) == {200, 201}, counts

        # The workers moved to the new master (it was a replica: no script ran on it before).
        promoted = redis.Redis(port=sentinels.master_port_now(), socket_timeout=2)
        assert promoted.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) > 0
        # The lost bump does not bring the old entry back; a write is seen by the very next read;
        # the cache serves again.
        author.assert_reads("lost bump", cached=False)
        for round_ in range(1, 3):
            assert author.retitle(f"after failover {round_}") == 200
            author.assert_reads(f"after failover {round_}", cached=False)
        wait_until(
            lambda: requests.get(author.path, headers=reader(), timeout=5).headers["X-Cache"] == "HIT",
            "the cache serves again",
        )
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "ok", ready.text


def count_round_trips(
    redis_url: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, sentinel_ports: tuple[int, ...] = ()
) -> tuple[int, int]:
    """Redis commands sent for one cached GET with the limiter on (a pipeline counts once):
    anonymous, and by a remembered caller (bearer token)."""
    settings = make_settings(
        sqlite_url,
        redis={"url": redis_url, "key_prefix": f"t{uuid.uuid4().hex[:8]}"},
        rate_limit={"enabled": True, "anonymous": "1000/minute"},
    )
    app = create_app(settings)
    api = Api(app.test_client(), app)
    bearer = api.user(f"u{uuid.uuid4().hex[:8]}")
    post = api.post(bearer, status="published")
    url = f"/api/v1/posts/{post['id']}"
    assert api.client.get(url).headers["X-Cache"] == "MISS"
    assert api.client.get(url, headers=bearer).headers["X-Cache"] == "MISS"  # and remembered
    sent: list[Any] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.port not in sentinel_ports:  # MasterWatch asks them once a second at most
            sent.append(command)
        return original(self, command, *args, **kwargs)

    counts = []
    for headers in ({}, bearer):
        sent.clear()
        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
        response = api.client.get(url, headers=headers)
        monkeypatch.undo()
        assert response.headers["X-Cache"] == "HIT"
        assert int(response.headers["X-RateLimit-Remaining"]) < 1000
        counts.append(len(sent))
    return counts[0], counts[1]


def test_cached_get_round_trips_sentinel_one_cluster_two(sqlite_url, sentinels, cluster_url, monkeypatch):
    # Sentinel: the limiter's script reads the cache's keys and the auth version (one master).
    assert count_round_trips(sentinels.url, sqlite_url, monkeypatch, tuple(sentinels.sentinel_ports)) == (
        1,
        1,
    )
    # Cluster: the counter's slot is the caller's, the entry's the namespace's, the auth version's
    # its own: a script, an MGET, and for a remembered caller a GET.
    assert count_round_trips(cluster_url, sqlite_url, monkeypatch) == (2, 3)


def test_readyz_fails_when_the_sentinels_know_no_such_master(sqlite_url, sentinels):
    url = sentinels.url.replace(f"/{SERVICE}/", "/no-such-service/")
    app = create_app(make_settings(sqlite_url, redis={"url": url}))
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["redis"] == "fail"
    # The API itself keeps serving, around the cache.
    listed = app.test_client().get("/api/v1/items")
    assert listed.status_code == 200 and listed.headers["X-Cache"] == "BYPASS"


def test_a_dead_cluster_master_is_not_ready_and_never_a_500(sqlite_url):
    with cluster() as url:
        app = create_app(make_settings(sqlite_url, redis={"url": url}, rate_limit={"enabled": True}))
        client = app.test_client()
        assert client.get("/readyz").status_code == 200
        port = int(url.rsplit(":", 1)[1])
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=port, socket_timeout=2).shutdown(nosave=True)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["redis"] == "fail"
        # Whichever slots the caller's counter and the namespaces fall in: answers, not errors.
        statuses = [client.get(f"/api/v1/items?page={n}").status_code for n in range(1, 21)]
        assert statuses == [200] * 20
