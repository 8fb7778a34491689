"""What migrations build that no model declares, by name, so a test can check it is there and
the schema comparison can leave it out (tests/services/test_migrations_match_models.py).

- SQLite FTS5 tables for search, and the triggers that keep them in step (migration 8f4a5b6c7d8e),
  and the triggers that keep post_counts (9a5b6c7d8e9f);
- PostgreSQL: the search column and GIN indexes (8f4a5b6c7d8e), and indexes in an order SQLite
  cannot declare (a06b7c8d9e0f).
"""

from __future__ import annotations

FTS5_TABLES = ("posts_trigram", "posts_words", "items_trigram")
SQLITE_TRIGGERS = (
    *(f"{table}_search_{event}" for table in ("posts", "items") for event in ("insert", "delete", "update")),
    *(f"post_counts_{event}" for event in ("insert", "delete", "update")),
)
PG_COLUMNS = ("search_vector",)
PG_INDEXES = (
    "ix_posts_status_published_at_desc",
    "ix_posts_published_at_desc",
    "ix_posts_title_trgm",
    "ix_posts_content_trgm",
    "ix_posts_search",
    "ix_items_name_trgm",
    "ix_items_description_trgm",
)
PG_TRIGGERS = ("post_counts_keep",)
