"""Alembic's view of the schema: the configuration `db-upgrade` runs, and whether a database is
at the head of the migrations this code ships."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, inspect, text

from core.settings import ROOT

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "alembic_version"
# The PostgreSQL advisory lock `db-upgrade` holds: the bytes of "inkwell" as a bigint.
MIGRATION_LOCK = int.from_bytes(b"inkwell")


def config(url: str | None = None) -> Config:
    """alembic.ini with absolute paths; migrations/env.py takes the URL from here when given."""
    # Imported here: alembic costs ~0.15 s to import, which no serving process needs at start.
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if url is not None:
        cfg.attributes["database_url"] = url
    return cfg


@cache
def head_revisions() -> frozenset[str]:
    # Loading the script directory imports every migration file: once per process, not per probe.
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(config()).get_heads())


def at_head(conn: Connection) -> bool:
    """Whether the database's recorded revisions are exactly the migrations' heads (an empty
    database, one behind, or one migrated by newer code is not)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return False
    current = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return frozenset(current) == head_revisions()


def upgrade_database(url: str) -> None:
    """Alembic to head: brings any empty (or older) database up to date.

    One transaction: on PostgreSQL it first takes an advisory lock, so when two hosts deploy at
    once the second waits, then finds the schema at head and does nothing. A transaction-scoped
    lock also holds through PgBouncer in transaction mode, and dies with a crashed process.
    SQLite's own write lock already serialises two runs on one file.
    """
    from alembic import command

    cfg = config(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            cfg.attributes["connection"] = conn  # migrations/env.py runs in this transaction
            command.upgrade(cfg, "head")
        if engine.dialect.name == "sqlite":
            _persist_wal(engine)
    finally:
        engine.dispose()


def _persist_wal(engine: Engine) -> None:
    """Leave a SQLite file in WAL mode (it is kept in the file): switching it takes an exclusive
    lock, and two workers switching at their first connections could refuse a request with
    "database is locked". core/db.py still asks on every connection; with WAL set it is a no-op."""
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        driver.isolation_level = None  # outside a transaction, where journal_mode can change
        driver.execute("PRAGMA journal_mode=WAL")
    finally:
        raw.close()
