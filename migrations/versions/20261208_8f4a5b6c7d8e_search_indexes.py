"""search from indexes: `q` (substring) and `search` (full text) on posts, `q` on items

SQLite: FTS5 tables over the posts' and items' text (external content: an index, no copy), kept
in step by triggers in the writing transaction. A later migration that recreates `posts` or
`items` (batch_alter_table on SQLite) drops these triggers and must create them again.
PostgreSQL: pg_trgm GIN indexes (ILIKE '%...%' uses them) and a stored, generated tsvector column
(the title weighted above the content) with a GIN index: ranking reads the stored vector instead
of parsing each matching post's text again. Adding the column rewrites `posts` once.

Revision ID: 8f4a5b6c7d8e
Revises: 7e3f4a5b6c7d
Create Date: 2026-12-08 04:00:00.000000
"""

from alembic import op


revision = "8f4a5b6c7d8e"
down_revision = "7e3f4a5b6c7d"
branch_labels = None
depends_on = None

# (FTS5 table, source table, its text columns, tokenizer)
SQLITE_TABLES = [
    ("posts_trigram", "posts", ("title", "content"), "trigram"),
    ("posts_words", "posts", ("title", "content"), "porter unicode61 remove_diacritics 2"),
    ("items_trigram", "items", ("name", "description"), "trigram"),
]

PG_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, title), 'A'::\"char\")"
    " || setweight(to_tsvector('english'::regconfig, content), 'B'::\"char\")"
)
PG_INDEXES = {
    "ix_posts_title_trgm": "posts USING gin (title gin_trgm_ops)",
    "ix_posts_content_trgm": "posts USING gin (content gin_trgm_ops)",
    "ix_posts_search": "posts USING gin (search_vector)",
    "ix_items_name_trgm": "items USING gin (name gin_trgm_ops)",
    "ix_items_description_trgm": "items USING gin (description gin_trgm_ops)",
}


def _sqlite_triggers(source: str, tables: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    def rows(prefix: str) -> list[tuple[str, str, str]]:
        out = []
        for name, columns in tables:
            names = ", ".join(columns)
            values = ", ".join(f"{prefix}.{c}" for c in columns)
            out.append((name, names, values))
        return out

    insert = "".join(f"INSERT INTO {n}(rowid, {c}) VALUES (new.id, {v}); " for n, c, v in rows("new"))
    delete = "".join(
        f"INSERT INTO {n}({n}, rowid, {c}) VALUES ('delete', old.id, {v}); " for n, c, v in rows("old")
    )
    watched = ", ".join(dict.fromkeys(c for _, columns in tables for c in columns))
    return [
        f"CREATE TRIGGER {source}_search_insert AFTER INSERT ON {source} BEGIN {insert}END",
        f"CREATE TRIGGER {source}_search_delete AFTER DELETE ON {source} BEGIN {delete}END",
        f"CREATE TRIGGER {source}_search_update AFTER UPDATE OF {watched} ON {source} "
        f"BEGIN {delete}{insert}END",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        by_source: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for name, source, columns, tokenizer in SQLITE_TABLES:
            op.execute(
                f"CREATE VIRTUAL TABLE {name} USING fts5({', '.join(columns)}, "
                f"content='{source}', content_rowid='id', tokenize='{tokenizer}')"
            )
            op.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")  # the rows already there
            by_source.setdefault(source, []).append((name, columns))
        for source, tables in by_source.items():
            for statement in _sqlite_triggers(source, tables):
                op.execute(statement)
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"ALTER TABLE posts ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({PG_VECTOR}) STORED")
        for name, definition in PG_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for source in ("posts", "items"):
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {source}_search_{event}")
        for name, _source, _columns, _tokenizer in SQLITE_TABLES:
            op.execute(f"DROP TABLE IF EXISTS {name}")
    else:
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("ALTER TABLE posts DROP COLUMN IF EXISTS search_vector")
