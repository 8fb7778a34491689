"""post_counts: posts per status, kept by triggers on posts in the writing transaction

An unfiltered posts list's total (anonymous: the published posts; admins: every post; a signed-in
reader: the published ones plus their own others) is read from here instead of counted.

Revision ID: 9a5b6c7d8e9f
Revises: 8f4a5b6c7d8e
Create Date: 2026-12-08 04:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "9a5b6c7d8e9f"
down_revision = "8f4a5b6c7d8e"
branch_labels = None
depends_on = None

ADD = "INSERT INTO post_counts (status, n) VALUES ({row}.status, 1) ON CONFLICT (status) DO UPDATE SET n = post_counts.n + 1"
TAKE = "UPDATE post_counts SET n = n - 1 WHERE status = {row}.status"

SQLITE = [
    f"CREATE TRIGGER post_counts_insert AFTER INSERT ON posts BEGIN {ADD.format(row='new')}; END",
    f"CREATE TRIGGER post_counts_delete AFTER DELETE ON posts BEGIN {TAKE.format(row='old')}; END",
    "CREATE TRIGGER post_counts_update AFTER UPDATE OF status ON posts WHEN old.status IS NOT new.status "
    f"BEGIN {TAKE.format(row='old')}; {ADD.format(row='new')}; END",
]
POSTGRESQL = [
    f"""CREATE FUNCTION post_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status THEN
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    {TAKE.format(row='OLD')};
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    {ADD.format(row='NEW')};
  END IF;
  RETURN NULL;
END $$""",
    "CREATE TRIGGER post_counts_keep AFTER INSERT OR DELETE OR UPDATE OF status ON posts "
    "FOR EACH ROW EXECUTE FUNCTION post_counts_keep()",
]


def upgrade() -> None:
    op.create_table(
        "post_counts",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_post_counts")),
    )
    op.execute("INSERT INTO post_counts (status, n) SELECT status, count(*) FROM posts GROUP BY status")
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS post_counts_{event}")
    else:
        op.execute("DROP TRIGGER IF EXISTS post_counts_keep ON posts")
        op.execute("DROP FUNCTION IF EXISTS post_counts_keep()")
    op.drop_table("post_counts")
