"""Real waitress servers with 2 workers: concurrent writes, and logout seen by every worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.http import PASSWORD
from tests.support.live import ROOT, app_env, live_server
from tests.support.services import REDIS_URL, migrated_database, redis_or_skip

pytestmark = pytest.mark.server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own: the servers here must not share the session database."""
    with migrated_database(request.param, tmp_path) as url:
        yield url


def login(base: str, username: str) -> dict[str, str]:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    assert requests.post(f"{base}/api/v1/auth/register", json=body, timeout=10).status_code == 201
    response = requests.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 200
    return response.json()


def server_log(base: str) -> str:
    return (ROOT / "var" / f"live-{base.rsplit(':', 1)[1]}.log").read_text()


def test_concurrent_creates_on_two_workers(db_url):
    with live_server(app_env(db_url), workers=2) as base:
        headers = {"Authorization": f"Bearer {login(base, 'writer')['access_token']}"}

        def create(n: int) -> int:
            with requests.Session() as session:
                body = {"title": f"Concurrent post {n % 7}", "content": f"body {n}"}
                return session.post(
                    f"{base}/api/v1/posts", json=body, headers=headers, timeout=60
                ).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(create, range(200)))
        assert statuses.count(201) == 200, {s: statuses.count(s) for s in set(statuses)}
        listed = requests.get(f"{base}/api/v1/posts?per_page=100", headers=headers, timeout=10).json()
        assert listed["total"] == 200
        slugs = set()
        for page in (1, 2):
            items = requests.get(
                f"{base}/api/v1/posts?per_page=100&page={page}", headers=headers, timeout=10
            ).json()["items"]
            slugs.update(p["slug"] for p in items)
        assert len(slugs) == 200  # generated slugs stayed unique under concurrent creates
        log = server_log(base)
        assert "database is locked" not in log
        assert "Traceback" not in log


@pytest.mark.parametrize("store", ["redis", "database"])
def test_logout_holds_across_workers(store, sqlite_url):
    url = sqlite_url
    settings: dict[str, str] = {}
    if store == "redis":
        redis_or_skip()
        settings = {"APP_REDIS__URL": REDIS_URL, "APP_REDIS__KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    with live_server(app_env(url, **settings), workers=2) as base:
        pair = login(base, "leaver")
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        for _ in range(20):
            with requests.Session() as session:
                assert session.get(f"{base}/api/v1/me", headers=headers, timeout=10).status_code == 200
        with requests.Session() as session:
            response = session.post(
                f"{base}/api/v1/auth/logout",
                json={"refresh_token": pair["refresh_token"]},
                headers=headers,
                timeout=10,
            )
            assert response.status_code == 204
        if store == "redis":
            # Redis losing its data (it runs without persistence) must not bring the token back.
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(f"{settings['APP_REDIS__KEY_PREFIX']}:*"):  # this test's keys only
                client.delete(key)
        for _ in range(40):
            with requests.Session() as session:  # a fresh connection each time: both workers answer
                response = session.get(f"{base}/api/v1/me", headers=headers, timeout=10)
                assert response.status_code == 401
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
        with requests.Session() as session:
            refresh = session.post(
                f"{base}/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}, timeout=10
            )
            assert refresh.status_code == 401
        log = server_log(base)
        assert "worker 0 (pid" in log and "worker 1 (pid" in log
        assert "Traceback" not in log
    if store == "redis":
        for key in client.scan_iter(f"{settings['APP_REDIS__KEY_PREFIX']}:*"):
            client.delete(key)


def test_304_and_204_keep_the_connection_open(sqlite_url):
    """waitress would close the connection after every bodiless response (adapters/waitress.py)."""
    import http.client
    from urllib.parse import urlsplit

    with live_server(app_env(sqlite_url)) as base:
        register = {"username": "keeper", "email": "keeper@example.com", "password": PASSWORD}
        requests.post(f"{base}/api/v1/auth/register", json=register, timeout=10).raise_for_status()
        login = {"username": "keeper", "password": PASSWORD}
        token = requests.post(f"{base}/api/v1/auth/login", json=login, timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        post = requests.post(
            f"{base}/api/v1/posts", json={"title": "t", "content": "c"}, headers=auth, timeout=10
        )
        etag = requests.get(f"{base}/api/v1/items", timeout=10).headers["ETag"]

        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
        try:
            seen = []
            for method, path, headers in [
                ("GET", "/api/v1/items", {"If-None-Match": etag}),
                ("GET", "/api/v1/items", {"If-None-Match": etag}),
                ("DELETE", f"/api/v1/posts/{post.json()['id']}", auth),
                ("GET", "/api/v1/items", {}),
            ]:
                conn.request(method, path, headers=headers)
                response = conn.getresponse()
                response.read()
                seen.append((response.status, response.will_close))
            local_port = conn.sock.getsockname()[1]
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            assert conn.sock.getsockname()[1] == local_port  # still the first connection
        finally:
            conn.close()
    assert seen == [(304, False), (304, False), (204, False), (200, False)]
