"""PostgreSQL as production runs it: two hosts migrating at once, and PgBouncer in transaction mode."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from core.db import Database
from core.migrations import at_head
from core.settings import Settings
from tests.support.http import PASSWORD
from tests.support.live import FLASK, ROOT, app_env, flask_cli, live_server
from tests.support.private import pgbouncer_binary, private_pgbouncer
from tests.support.services import create_pg_database, drop_pg_database, make_settings, postgres_or_skip

pytestmark = pytest.mark.server


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """An empty database (no schema) on the machine's PostgreSQL, dropped afterwards."""
    postgres_or_skip()
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def test_two_db_upgrades_at_once_both_succeed(fresh_pg):
    env = app_env(fresh_pg)
    runs = [
        subprocess.Popen(
            [*FLASK, "db-upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        outcomes = [(*run.communicate(timeout=120), run.returncode) for run in runs]
    finally:
        for run in runs:  # a run that hung (or a failed wait) is not left behind
            if run.poll() is None:
                run.kill()
                run.wait(timeout=10)
    outcomes = [(code, out, err) for out, err, code in outcomes]
    for code, out, err in outcomes:
        assert code == 0, err[-2000:]
        assert "database is at head" in out
    engine = create_engine(fresh_pg)
    try:
        with engine.connect() as conn:
            assert at_head(conn)
    finally:
        engine.dispose()


def repeated_statements(settings: Settings, clients: int = 4, transactions: int = 15) -> list[str]:
    """Transactions that each run one statement 8 times (past psycopg's default threshold of 5),
    from several threads at once on the app's own engine; the errors they met."""
    db = Database(settings)
    errors: list[str] = []

    def client(_n: int) -> None:
        for _ in range(transactions):
            try:
                with db.engine.connect() as conn:
                    for k in range(8):
                        assert conn.execute(text("SELECT CAST(:k AS int) + 1"), {"k": k}).scalar() == k + 1
                    conn.commit()
            except DBAPIError as exc:
                errors.append(str(exc.orig).splitlines()[0])

    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(client, range(clients)))
    finally:
        db.dispose()
    return errors


def pgbouncer_version() -> tuple[int, ...]:
    out = subprocess.run([pgbouncer_binary(), "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(part) for part in re.search(r"(\d+)\.(\d+)", out).groups())  # type: ignore[union-attr]


def test_the_api_through_pgbouncer_in_transaction_mode(fresh_pg):
    """PgBouncer in transaction pooling mode, 2 server connections for many clients.

    With server-side prepares (psycopg's default after 5 runs of a statement on a connection) a
    statement prepared on one server connection is later run, or prepared again, on another:
    "prepared statement ... does not exist / already exists". database.prepare_threshold = none
    avoids it. Then the smoke subset (tests/api/test_smoke.py) and more runs on a live server
    whose database is the pooler."""
    host_port = fresh_pg.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    database = fresh_pg.rsplit("/", 1)[1]
    with private_pgbouncer(host, int(port), pool_size=2) as bouncer:
        url = bouncer.url(database)
        assert repeated_statements(make_settings(url, database={"prepare_threshold": None})) == []
        if pgbouncer_version() < (1, 21):
            # The control: the same load with psycopg's default does break on this pooler
            # (1.21+ can track prepared statements itself, with max_prepared_statements).
            failed = repeated_statements(make_settings(url, database={"prepare_threshold": 5}))
            assert any("prepared statement" in error for error in failed), failed
        env = app_env(url, APP_DATABASE__PREPARE_THRESHOLD="none")
        flask_cli(["db-upgrade"], env)  # the migration (and its advisory lock) through PgBouncer too
        with live_server(env, workers=2, threads=4) as base:
            assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
            assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
            body = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
            assert requests.post(f"{base}/api/v1/auth/register", json=body, timeout=10).status_code == 201
            login = {"username": "alice", "password": PASSWORD}
            token = requests.post(f"{base}/api/v1/auth/login", json=login, timeout=10).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            me = requests.get(f"{base}/api/v1/me", headers=headers, timeout=10)
            assert me.status_code == 200 and me.json()["email"] == "alice@example.com"
            assert requests.get(f"{base}/api/v1/me", timeout=10).status_code == 401
            # Past the threshold on every connection: fresh connections spread over both workers
            # and their pools, and each request runs the same handful of statements.
            ids = []
            for n in range(12):
                with requests.Session() as session:
                    created = session.post(
                        f"{base}/api/v1/posts",
                        json={"title": f"Through the pooler {n}", "content": "body"},
                        headers=headers,
                        timeout=10,
                    )
                    assert created.status_code == 201, created.text
                    ids.append(created.json()["id"])
                    comment = session.post(
                        f"{base}/api/v1/posts/{ids[-1]}/comments",
                        json={"content": f"comment {n}"},
                        headers=headers,
                        timeout=10,
                    )
                    assert comment.status_code == 201, comment.text
            for n in range(30):
                with requests.Session() as session:
                    assert session.get(f"{base}/api/v1/me", headers=headers, timeout=10).status_code == 200
                    post = session.get(
                        f"{base}/api/v1/posts/{ids[n % len(ids)]}", headers=headers, timeout=10
                    )
                    assert post.status_code == 200 and post.json()["comment_count"] == 1, post.text
            listed = requests.get(f"{base}/api/v1/posts?per_page=100", headers=headers, timeout=10).json()
            assert listed["total"] == 12
