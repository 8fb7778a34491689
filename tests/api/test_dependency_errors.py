"""What a dead or restarting database raises maps to 503 + Retry-After, a bug still to 500; a
draining worker is not ready; the PostgreSQL production settings parse as documented."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from flask import Flask
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from core.settings import Settings
from services.config import ServiceConfig
from services.uow import UnitOfWork
from tests.support.services import PG_ADMIN_URL, make_settings, postgres_or_skip
from web.context import RequestState
from web.errors import to_problem


class _Dead:
    @property
    def author(self) -> str:  # a lazy load on a connection PostgreSQL just closed
        raise OperationalError("SELECT", {}, psycopg.OperationalError("server closed the connection"))


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    author: str


def _render_failure() -> ValidationError:
    try:
        _Out.model_validate(_Dead())
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


def _sqlstate_error(error: type[psycopg.Error]) -> ProgrammingError:
    return ProgrammingError("SELECT 1", {}, error("..."))


@pytest.mark.parametrize(
    "make_error",
    [
        lambda: OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")),
        lambda: OperationalError("SELECT 1", {}, psycopg.errors.AdminShutdown("terminating connection")),
        lambda: OperationalError("SELECT 1", {}, psycopg.errors.CannotConnectNow("starting up")),
        lambda: InterfaceError("SELECT 1", {}, psycopg.InterfaceError("the connection is closed")),
        lambda: PoolTimeout("QueuePool limit reached"),
        lambda: DisconnectionError("pre-ping failed"),
        lambda: _sqlstate_error(psycopg.errors.ReadOnlySqlTransaction),  # a standby, not yet promoted
        lambda: _sqlstate_error(psycopg.errors.TooManyConnections),
        _render_failure,
    ],
    ids=[
        "refused",
        "admin-shutdown",
        "starting-up",
        "closed",
        "pool-timeout",
        "pre-ping",
        "read-only",
        "too-many",
        "render-lazy-load",
    ],
)
def test_unavailable_database_errors_are_503_with_retry_after(app: Flask, make_error) -> None:
    with app.test_request_context("/api/v1/posts"):
        from flask import g

        g.inkwell = RequestState(request_id="r", method="GET")
        response = to_problem(make_error())
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()


def test_a_programming_error_stays_a_500(app: Flask) -> None:
    with app.test_request_context("/api/v1/posts"):
        from flask import g

        g.inkwell = RequestState(request_id="r", method="GET")
        response = to_problem(_sqlstate_error(psycopg.errors.UndefinedColumn))
    assert response.status_code == 500


def test_a_draining_worker_is_not_ready(app: Flask, client) -> None:
    assert client.get("/readyz").status_code == 200
    app.extensions["inkwell"].draining = True  # what the server sets on SIGTERM or SIGHUP
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "fail",
        "checks": {"database": "ok", "redis": "disabled", "server": "fail"},
    }
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(("given", "expected"), [("none", None), ("null", None), ("0", 0), ("5", 5)])
def test_prepare_threshold_from_the_environment(monkeypatch, given: str, expected: int | None) -> None:
    monkeypatch.setenv("APP_DATABASE__PREPARE_THRESHOLD", given)
    assert Settings().database.prepare_threshold == expected


def test_postgres_engine_takes_the_pool_and_prepare_settings() -> None:
    from core.db import make_engine

    url = "postgresql+psycopg://postgres@127.0.0.1:1/none"
    engine = make_engine(
        make_settings(url, database={"pool_size": 3, "max_overflow": 2, "prepare_threshold": None})
    )
    assert engine.pool.size() == 3 and engine.pool._max_overflow == 2
    seen: dict[str, object] = {}

    @event.listens_for(engine, "do_connect")
    def _capture(_dialect, _record, _cargs, cparams) -> None:
        seen.update(cparams)
        raise RuntimeError("captured; no need to connect")

    with pytest.raises(RuntimeError, match="captured"):
        engine.connect()
    assert seen["prepare_threshold"] is None and seen["connect_timeout"] == 3
    engine.dispose()
    defaults = make_engine(make_settings(url, server={"threads": 6}))
    assert defaults.pool.size() == 6
    defaults.dispose()


def test_closing_a_unit_of_work_on_a_dead_connection_never_raises() -> None:
    """PostgreSQL ends the session's backend mid-transaction: closing the unit of work neither
    raises nor keeps the connection, and the next session gets a live one."""
    postgres_or_skip()
    engine = create_engine(PG_ADMIN_URL, pool_pre_ping=True)
    try:
        unit = UnitOfWork(Session(engine), ServiceConfig.from_settings(Settings()))
        backend = unit.session.scalar(text("SELECT pg_backend_pid()"))
        killer = create_engine(PG_ADMIN_URL)
        try:
            with killer.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        finally:
            killer.dispose()

        unit.close()

        assert engine.pool.checkedout() == 0
        with Session(engine) as fresh:
            assert fresh.scalar(text("SELECT 1")) == 1
    finally:
        engine.dispose()


def test_a_rollback_that_fails_on_a_live_connection_still_returns_it(tmp_path) -> None:
    """Not a disconnect (SQLite refusing the ROLLBACK, say): the session lets go of the connection
    without handing it back; closing the unit of work must not leak it from the pool."""
    failing = {"on": False}

    class RefusingRollback(sqlite3.Connection):
        def rollback(self) -> None:
            if failing["on"]:
                raise sqlite3.OperationalError("cannot rollback - SQL statements in progress")
            super().rollback()

    engine = create_engine(
        f"sqlite:///{tmp_path / 'u.db'}",
        connect_args={"factory": RefusingRollback},
        pool_size=1,
        max_overflow=0,
    )
    try:
        unit = UnitOfWork(Session(engine), ServiceConfig.from_settings(Settings()))
        assert unit.session.scalar(text("SELECT 1")) == 1
        failing["on"] = True

        unit.close()

        failing["on"] = False
        assert engine.pool.checkedout() == 0
        with Session(engine) as fresh:
            assert fresh.scalar(text("SELECT 2")) == 2
    finally:
        engine.dispose()
