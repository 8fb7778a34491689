"""Engine and session factory, built by create_app (never at import time)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.settings import ROOT, Settings

WRITE_OPTION = "inkwell_write"
WRITER = "inkwell_writer"  # set in a connection's info while it holds the process's write lock


def make_engine(settings: Settings) -> Engine:
    url = make_url(settings.database.url)
    kwargs: dict[str, Any] = {"echo": settings.database.echo}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not Path(url.database).is_absolute():
            url = url.set(database=str(ROOT / url.database))
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {
            "check_same_thread": False,
            "timeout": settings.database.busy_timeout_ms / 1000,
        }
        kwargs["pool_size"] = settings.server.threads
        kwargs["max_overflow"] = settings.server.threads
        engine = create_engine(url, **kwargs)
        _tune_sqlite(engine, settings.database.busy_timeout_ms, settings.database.sqlite_mmap_bytes)
        return engine
    # By default one pooled connection per waitress thread, plus a little headroom for health checks.
    # pool_pre_ping: a connection that died with its server (a restart, a failover, PgBouncer
    # closing it) is replaced on checkout, so the first request after a recovery does not fail.
    database = settings.database
    kwargs.update(
        pool_size=database.pool_size or settings.server.threads,
        max_overflow=database.max_overflow,
        pool_pre_ping=True,
        pool_timeout=5,
    )
    if url.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 3, "prepare_threshold": database.prepare_threshold}
    return create_engine(url, **kwargs)


def _tune_sqlite(engine: Engine, busy_timeout_ms: int, mmap_bytes: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # Pages read from the OS cache through a map, no read() and copy each (docs/performance.md).
        cursor.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")
        cursor.close()

    # SQLite has one writer at a time, and a writer that finds the lock taken sleeps in SQLite's
    # busy handler in growing steps before it looks again, which stretched the p99 of concurrent
    # POSTs far past the median. This process's writers queue on a lock
    # instead and start the moment the previous one ends; the busy timeout still covers writers
    # of other processes, and bounds the wait here, so a lost release can never hang writes (a
    # writer that waited that long for the lock may then wait up to as long again for SQLite's).
    writers = threading.Lock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that reads and then writes cannot wait for the lock: SQLite
        # answers "database is locked" at once. Write requests take the lock up front instead,
        # where busy_timeout applies; reads stay deferred and never block under WAL.
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        if immediate and writers.acquire(timeout=busy_timeout_ms / 1000):
            conn.info[WRITER] = True
        statement = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        try:
            # On the driver's connection: exec_driver_sql would build SQLAlchemy's execution
            # context for a statement that needs none. Its errors are raised as
            # SQLAlchemy's own (a lock not obtained in time: OperationalError, a 503).
            conn.connection.dbapi_connection.execute(statement)
        except sqlite3.Error as exc:
            _release(conn.info)
            raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc
        except BaseException:
            _release(conn.info)
            raise

    def _release(info: dict[str, Any]) -> None:
        if info.pop(WRITER, False):
            writers.release()

    # The write transaction has ended once its connection goes back to the pool (after COMMIT
    # or ROLLBACK), or is invalidated or closed.
    for name in ("checkin", "invalidate", "close"):
        event.listen(engine, name, lambda _dbapi, record, *_: _release(record.info))


class Database:
    """The engine plus two session factories: one for reads, one whose transactions write."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        write_bind = self.engine.execution_options(**{WRITE_OPTION: True}) if self.is_sqlite else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)
        self._write = sessionmaker(write_bind, expire_on_commit=False, autoflush=True)

    def session(self, *, write: bool) -> Session:
        return (self._write if write else self._read)()

    def dispose(self) -> None:
        self.engine.dispose()
