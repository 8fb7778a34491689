"""The schema `db-upgrade` builds is the one the models declare: a migration that loses an index,
a constraint or SQLite's AUTOINCREMENT when it recreates a table fails here, not in production."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

import models
from models import unmodelled


def test_the_migrated_schema_is_the_one_the_models_declare(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite cannot reflect expression indexes; their names are checked below instead.
            warnings.filterwarnings("ignore", "autogenerate skipping", UserWarning)
            warnings.filterwarnings("ignore", "Skipped unsupported reflection")
            # The search indexes are not modelled (services/unmodelled.py): checked below by name.
            context = MigrationContext.configure(conn, opts={"include_name": _modelled})
            diff = compare_metadata(context, models.Base.metadata)
            built = _unmodelled_objects(conn)
            sqlite = engine.dialect.name == "sqlite"
            schema = conn.execute(text("SELECT type, name, sql FROM sqlite_master")).all() if sqlite else []
    finally:
        engine.dispose()
    assert diff == []
    if sqlite:
        assert set(unmodelled.FTS5_TABLES) | set(unmodelled.SQLITE_TRIGGERS) <= built
    else:
        assert set(unmodelled.PG_INDEXES) | set(unmodelled.PG_TRIGGERS) <= built
    if sqlite:
        indexes = {name for kind, name, _ in schema if kind == "index"}
        declared = {index.name for table in models.Base.metadata.tables.values() for index in table.indexes}
        assert declared - indexes == set()
        plain = {name for kind, name, sql in schema if kind == "table" and "AUTOINCREMENT" not in sql}
        assert {t.name for t in models.Base.metadata.tables.values() if _never_reuses_ids(t)} & plain == set()


def _modelled(name, kind, parent) -> bool:
    if name is None:
        return True
    built_apart = name in unmodelled.PG_INDEXES or name in unmodelled.PG_COLUMNS
    return not (built_apart or name.startswith(unmodelled.FTS5_TABLES))


def _unmodelled_objects(conn) -> set[str]:
    if conn.dialect.name == "sqlite":
        return set(
            conn.execute(text("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")).scalars()
        )
    indexes = conn.execute(text("SELECT indexname FROM pg_indexes")).scalars()
    triggers = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
    return {*indexes, *triggers}


def _never_reuses_ids(table) -> bool:
    return bool(table.dialect_options["sqlite"].get("autoincrement"))
