from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import NEVER_REUSE_IDS, Base, Timestamped
from models.user import User


class Comment(Timestamped, Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)

    author: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        Index("ix_comments_post_id_created_at", "post_id", "created_at", "id"),
        Index("ix_comments_post_id_updated_at", "post_id", "updated_at", "id"),
        Index("ix_comments_author_id", "author_id"),
        NEVER_REUSE_IDS,
    )
