from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, func, select, text
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from models.base import NEVER_REUSE_IDS, Base, Timestamped, UTCDateTime, utcnow
from models.comment import Comment
from models.user import User


class Post(Timestamped, Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    # Unique among published posts and among one author's posts: a draft claims its slug from no
    # one else, so nobody learns another user's draft slug from a 409 or a "-2".
    slug: Mapped[str] = mapped_column(String(200), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Author and comment count come with the post in one SELECT (no N+1 on lists).
    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    comment_count: Mapped[int] = column_property(
        select(func.count(Comment.id))
        .where(Comment.post_id == id)
        .correlate_except(Comment)
        .scalar_subquery()
    )

    __table_args__ = (
        # Each list filter + sort the contract names has an index that serves it.
        Index("ix_posts_status_created_at", "status", "created_at", "id"),
        Index("ix_posts_status_published_at", "status", "published_at", "id"),
        Index("ix_posts_status_title", "status", "title", "id"),
        Index("ix_posts_author_id_created_at", "author_id", "created_at", "id"),
        Index("ix_posts_created_at", "created_at", "id"),
        Index("ix_posts_status_updated_at", "status", "updated_at", "id"),
        # An admin's lists (no status filter): every sort.
        Index("ix_posts_updated_at", "updated_at", "id"),
        Index("ix_posts_title", "title", "id"),
        Index("ix_posts_published_at", "published_at", "id"),
        Index(
            "uq_posts_published_slug",
            "slug",
            unique=True,
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
        Index("uq_posts_author_slug", "author_id", "slug", unique=True),
        NEVER_REUSE_IDS,
    )

    def set_status(self, status: str) -> None:
        """Publishing stamps published_at the first time only."""
        self.status = status
        if status == "published" and self.published_at is None:
            self.published_at = utcnow()


class PostCount(Base):
    """How many posts have each status, kept by triggers on `posts` in the writing transaction
    (migration 9a5b6c7d8e9f): an unfiltered list's total is read here, not counted over every
    post at each list miss (a comment bumps the posts namespace, so misses come often)."""

    __tablename__ = "post_counts"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, nullable=False)
