"""slugs unique among published posts and per author, not across every draft; api_keys gets back
the AUTOINCREMENT that 5c1d2e3f4a5b's table recreate dropped on SQLite

Revision ID: 6d2e3f4a5b6c
Revises: 5c1d2e3f4a5b
Create Date: 2026-12-07 16:05:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "6d2e3f4a5b6c"
down_revision = "5c1d2e3f4a5b"
branch_labels = None
depends_on = None

PUBLISHED = sa.text("status = 'published'")
# SQLite recreates the table; keep AUTOINCREMENT so ids are never reused.
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_constraint("uq_posts_slug", type_="unique")
        batch_op.create_index(
            "uq_posts_published_slug",
            ["slug"],
            unique=True,
            sqlite_where=PUBLISHED,
            postgresql_where=PUBLISHED,
        )
        batch_op.create_index("uq_posts_author_slug", ["author_id", "slug"], unique=True)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("api_keys", recreate="always", table_kwargs=KEEP):
            pass


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_index("uq_posts_author_slug")
        batch_op.drop_index("uq_posts_published_slug")
        batch_op.create_unique_constraint("uq_posts_slug", ["slug"])
