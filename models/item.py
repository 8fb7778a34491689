from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import NEVER_REUSE_IDS, Base, Money, Timestamped


class Item(Timestamped, Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    stock: Mapped[int] = mapped_column(nullable=False, default=0)

    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_non_negative"),
        CheckConstraint("price >= 0", name="price_non_negative"),
        Index("ix_items_name", "name", "id"),
        Index("ix_items_price", "price", "id"),
        Index("ix_items_created_at", "created_at", "id"),
        Index("ix_items_updated_at", "updated_at", "id"),
        NEVER_REUSE_IDS,
    )
