from __future__ import annotations

from sqlalchemy import Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from models.base import NEVER_REUSE_IDS, Base, Timestamped


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    bio: Mapped[str] = mapped_column(Text, nullable=False, default="")
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="user")

    __table_args__ = (
        # Uniqueness ignores case; the same expression index serves lookups by lower(username).
        Index("uq_users_username_lower", func.lower(username), unique=True),
        Index("uq_users_email_lower", func.lower(email), unique=True),
        Index("ix_users_created_at", "created_at"),
        Index("ix_users_updated_at", "updated_at", "id"),
        # sort=username orders by lower(username), id: both ways from one index (PostgreSQL sorted
        # with the unique index alone, which does not hold the id).
        Index("ix_users_username_lower_id", func.lower(username), "id"),
        NEVER_REUSE_IDS,
    )
