"""The schema `db-upgrade` builds is the one the models declare: a migration that loses an index,
a constraint or SQLite's AUTOINCREMENT when it recreates a table fails here, not in production."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

import models


def test_the_migrated_schema_is_the_one_the_models_declare(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite cannot reflect expression indexes; their names are checked below instead.
            warnings.filterwarnings("ignore", "autogenerate skipping", UserWarning)
            warnings.filterwarnings("ignore", "Skipped unsupported reflection")
            diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
            sqlite = engine.dialect.name == "sqlite"
            schema = conn.execute(text("SELECT type, name, sql FROM sqlite_master")).all() if sqlite else []
    finally:
        engine.dispose()
    assert diff == []
    if sqlite:
        indexes = {name for kind, name, _ in schema if kind == "index"}
        declared = {index.name for table in models.Base.metadata.tables.values() for index in table.indexes}
        assert declared - indexes == set()
        plain = {name for kind, name, sql in schema if kind == "table" and "AUTOINCREMENT" not in sql}
        assert {t.name for t in models.Base.metadata.tables.values() if _never_reuses_ids(t)} & plain == set()


def _never_reuses_ids(table) -> bool:
    return bool(table.dialect_options["sqlite"].get("autoincrement"))
