"""Shared fixtures: the API suite runs on SQLite and on the real PostgreSQL (helpers: tests/support)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from core.migrations import upgrade_database
from tests.support.clock import MovableClock
from tests.support.http import Api
from tests.support.openapi_check import ValidatingClient
from tests.support.services import make_settings, migrated_database
from web.pipeline import InkwellFlask

# Every app any test builds answers through a client that checks each response against the app's
# own /openapi.json (status, headers, media type, body), so no test can forget to.
InkwellFlask.test_client_class = ValidatingClient


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
def clock() -> MovableClock:
    """The test's clock: every app the test builds reads it; advance() it instead of sleeping."""
    return MovableClock()


@pytest.fixture
def make_app(database_url: str, clock: MovableClock) -> Iterator[Callable[..., Flask]]:
    """Build an app on the session's database with section overrides; cleaned up after the test."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(make_settings(database_url, **overrides), clock=clock)
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


@pytest.fixture
def api(client: FlaskClient, app: Flask) -> Api:
    return Api(client, app)
