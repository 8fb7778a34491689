"""the sorts PostgreSQL still sorted: users by lower(username) with the id, and posts by
-published_at (PostgreSQL reads an ascending index backwards as DESC NULLS FIRST; the list puts
NULLs last, so it needs an index in that order)

Revision ID: a06b7c8d9e0f
Revises: 9a5b6c7d8e9f
Create Date: 2026-12-08 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "a06b7c8d9e0f"
down_revision = "9a5b6c7d8e9f"
branch_labels = None
depends_on = None

# Not modelled (SQLite has no NULLS LAST in an index): models/unmodelled.py names them.
PUBLISHED_DESC = {
    "ix_posts_status_published_at_desc": "posts (status, published_at DESC NULLS LAST, id DESC)",
    "ix_posts_published_at_desc": "posts (published_at DESC NULLS LAST, id DESC)",
}


def upgrade() -> None:
    op.create_index("ix_users_username_lower_id", "users", [sa.text("lower(username)"), "id"])
    if op.get_bind().dialect.name == "postgresql":
        for name, definition in PUBLISHED_DESC.items():
            op.execute(f"CREATE INDEX {name} ON {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in PUBLISHED_DESC:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_users_username_lower_id", table_name="users")
