"""Shared fixtures: the API suite runs on SQLite and on the real PostgreSQL.

Under CI=true a PostgreSQL or Redis that cannot be reached is a failure, never a skip;
elsewhere those tests are skipped with a loud reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from app import create_app
from core.migrations import upgrade_database
from core.settings import Settings, deep_merge
from tests.openapi_check import ValidatingClient
from web.pipeline import InkwellFlask

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct-horse-battery"

# Every app any test builds answers through a client that checks each response against the app's
# own /openapi.json (status, headers, media type, body), so no test can forget to.
InkwellFlask.test_client_class = ValidatingClient


def require_service(name: str, reason: str) -> None:
    message = f"{name} is not reachable ({reason})"
    if CI:
        pytest.fail(f"{message}: under CI=true this is a failure, not a skip", pytrace=False)
    pytest.skip(f"!!! SKIPPED: {message}; start it to run these tests !!!")


def postgres_or_skip() -> None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        require_service("PostgreSQL", type(exc).__name__)


def redis_or_skip(url: str = REDIS_URL) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping()
    except Exception as exc:
        require_service("Redis", type(exc).__name__)


def create_pg_database() -> str:
    """A fresh database on the real server, one per test session (and xdist worker)."""
    name = f"inkwell_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def migrated_database(kind: str, directory: Path) -> Iterator[str]:
    """A fresh database migrated to head (as `db-upgrade` does): a SQLite file in `directory`,
    or a new database on the real PostgreSQL, dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'inkwell.db'}"
        upgrade_database(url)
        yield url
        return
    postgres_or_skip()
    url = create_pg_database()
    try:
        upgrade_database(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per kind for the whole session (tests wipe it between them)."""
    with migrated_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    """A fresh migrated SQLite file, for tests whose subject does not depend on the database."""
    url = f"sqlite:///{tmp_path / 'inkwell.db'}"
    upgrade_database(url)
    return url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    base = {
        "database": {"url": database_url},
        "redis": {"url": ""},
        "rate_limit": {"enabled": False},
        "auth": {"secret_key": "test-secret-key-that-is-long-enough-for-hs256"},
    }
    for section, values in overrides.items():
        base.setdefault(section, {}).update(values)
    return Settings(**deep_merge(Settings(env="test").model_dump(by_alias=True), base))


def wipe(app: Flask) -> None:
    """Empty every table between tests so no test sees another's data."""
    import models

    engine = app.extensions["inkwell"].db.engine
    tables = [t.name for t in reversed(models.Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(conn) else None


def _has_sqlite_sequence(conn: Any) -> bool:
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build an app on the session's database with section overrides; cleaned up after the test."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(make_settings(database_url, **overrides))
        apps.append(app)
        if len(apps) == 1:
            wipe(app)
        return app

    yield build
    for app in apps:
        app.extensions["inkwell"].db.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Api:
    """Small helpers so tests read as HTTP conversations."""

    def __init__(self, client: FlaskClient, app: Flask) -> None:
        self.client = client
        self.app = app

    def register(self, username: str, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/auth/register",
            json={"username": username, "email": email or f"{username}@example.com", "password": password},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def user(self, username: str, *, admin: bool = False) -> dict[str, str]:
        """Register (and optionally promote) a user; return bearer headers."""
        created = self.register(username)
        if admin:
            self.promote(created["id"])
        return {"Authorization": f"Bearer {self.login(username)['access_token']}"}

    def promote(self, user_id: int) -> None:
        from models import User

        with self.app.extensions["inkwell"].db.session(write=True) as session:
            session.get(User, user_id).role = "admin"
            session.commit()

    def key(self, headers: dict[str, str], scopes: list[str], **extra: Any) -> dict[str, str]:
        response = self.client.post(
            "/api/v1/api-keys", json={"name": "k", "scopes": scopes, **extra}, headers=headers
        )
        assert response.status_code == 201, response.get_json()
        return {"X-API-Key": response.get_json()["key"]}

    def post(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {"title": "A title", "content": "Some content", **fields}
        response = self.client.post("/api/v1/posts", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


@pytest.fixture
def api(client: FlaskClient, app: Flask) -> Api:
    return Api(client, app)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The contract's problem+json shape, with the request id echoed."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    for field in ("type", "title", "status", "detail", "instance", "request_id"):
        assert field in body, field
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body
