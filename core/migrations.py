"""Alembic's view of the schema: the configuration `db-upgrade` runs, and whether a database is
at the head of the migrations this code ships."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from core.settings import ROOT

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "alembic_version"


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
    """Alembic to head: brings any empty (or older) database up to date."""
    from alembic import command

    command.upgrade(config(url), "head")
