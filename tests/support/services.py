"""The machine's shared PostgreSQL and Redis, and the settings a test app runs on.

Under CI=true a PostgreSQL or Redis that cannot be reached is a failure, never a skip;
elsewhere those tests are skipped with a loud reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from core.migrations import upgrade_database
from core.settings import Settings, deep_merge

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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
