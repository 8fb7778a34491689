"""SQLite: one process's writers queue on a lock (core/db.py), and every way a write transaction
ends hands it on. A lost release would make the next writer wait out the busy timeout."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from core.db import Database
from tests.support.services import make_settings

BUSY_MS = 5000


def write_in_another_thread(db: Database) -> threading.Thread:
    def write() -> None:
        with db.session(write=True) as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            session.commit()
            done.set()

    done = threading.Event()
    thread = threading.Thread(target=write, daemon=True)
    thread.done = done  # type: ignore[attr-defined]
    thread.start()
    return thread


def finishes(db: Database) -> bool:
    """Another thread's write starts and commits well within the busy timeout."""
    thread = write_in_another_thread(db)
    thread.join(timeout=BUSY_MS / 1000 / 3)
    return bool(thread.done.is_set())  # type: ignore[attr-defined]


def test_every_end_of_a_write_transaction_hands_the_lock_on(tmp_path: Path) -> None:
    db = Database(make_settings(f"sqlite:///{tmp_path / 'w.db'}", database={"busy_timeout_ms": BUSY_MS}))
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))

    with db.session(write=True) as session:  # committed
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.commit()
    assert finishes(db)

    with db.session(write=True) as session:  # rolled back
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.rollback()
    assert finishes(db)

    # A failed statement, then the session closed.
    with db.session(write=True) as session, pytest.raises(OperationalError):
        session.execute(text("INSERT INTO missing VALUES (1)"))
    assert finishes(db)

    with db.session(write=True) as session:  # its connection invalidated
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.connection().invalidate()
    assert finishes(db)

    # While a write transaction is open, another thread's writer waits for it, then goes.
    with db.session(write=True) as session:
        session.execute(text("INSERT INTO t VALUES (3)"))
        waiting = write_in_another_thread(db)
        waiting.join(timeout=0.3)
        assert not waiting.done.is_set()  # type: ignore[attr-defined]
        session.commit()
    waiting.join(timeout=BUSY_MS / 1000 / 3)
    assert waiting.done.is_set()  # type: ignore[attr-defined]
    with db.session(write=False) as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 7  # 1, 4 hand-ons, 3, 2
    db.dispose()


def test_a_write_that_cannot_get_the_database_in_time_is_a_503(sqlite_url: str) -> None:
    """Another connection (as another process would) holding SQLite's write lock past the busy
    timeout: BEGIN IMMEDIATE gives up with SQLAlchemy's OperationalError (however the transaction
    was begun), the client gets a 503 it may retry, not a 500, and nothing is half-written."""
    import sqlite3

    from app import create_app

    app = create_app(make_settings(sqlite_url, database={"busy_timeout_ms": 100}))
    db = Database(make_settings(sqlite_url, database={"busy_timeout_ms": 100}))
    try:
        client = app.test_client()
        user = {"username": "writer", "email": "writer@example.com", "password": "a-long-password-1"}
        # Warm pools: a first connection's BEGIN runs inside SQLAlchemy's dialect set-up, which
        # wraps errors on its own; a pooled connection's does not.
        assert client.get("/api/v1/items").status_code == 200
        with db.session(write=False) as session:
            session.execute(text("SELECT 1"))
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            response = client.post("/api/v1/auth/register", json=user)
            with pytest.raises(OperationalError), db.session(write=True) as session:
                session.execute(text("INSERT INTO items (name) VALUES ('x')"))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["status"] == 503
        # Nothing of the refused request was written: the same username registers now.
        assert client.post("/api/v1/auth/register", json=user).status_code == 201
    finally:
        db.dispose()
        app.extensions["inkwell"].db.dispose()


def test_a_migrated_sqlite_file_is_already_in_wal_mode(tmp_path) -> None:
    """Workers never switch the journal mode at their first connections (an exclusive lock two
    of them could race for, answering one request 503): the migration leaves the file in WAL."""
    import sqlite3

    from core.migrations import upgrade_database

    path = tmp_path / "fresh.db"
    upgrade_database(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
