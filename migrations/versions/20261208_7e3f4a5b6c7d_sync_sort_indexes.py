"""indexes for sort=updated_at and updated_since on every synced list, and for an admin's posts
by title or published_at

Built in db-upgrade's one transaction, which holds the advisory lock (core/migrations.py): on
PostgreSQL a plain CREATE INDEX lets the table be read while it builds and holds its writes
until it is built (docs/operations.md). CREATE INDEX
CONCURRENTLY cannot run there: it waits for every open transaction, the lock's included.

Revision ID: 7e3f4a5b6c7d
Revises: 6d2e3f4a5b6c
Create Date: 2026-12-08 03:20:00.000000
"""

from alembic import op


revision = "7e3f4a5b6c7d"
down_revision = "6d2e3f4a5b6c"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_posts_status_updated_at": ("posts", ["status", "updated_at", "id"]),
    "ix_posts_updated_at": ("posts", ["updated_at", "id"]),
    "ix_posts_title": ("posts", ["title", "id"]),
    "ix_posts_published_at": ("posts", ["published_at", "id"]),
    "ix_comments_post_id_updated_at": ("comments", ["post_id", "updated_at", "id"]),
    "ix_items_updated_at": ("items", ["updated_at", "id"]),
    "ix_users_updated_at": ("users", ["updated_at", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
