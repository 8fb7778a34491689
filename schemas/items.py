from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, PlainSerializer, StringConstraints

from schemas.common import Body, Out, Page, PageQuery

# Money: a JSON number or string in, never NaN/Infinity, at most 2 decimals; a 2-decimal string out.
MoneyIn = Annotated[Decimal, Field(ge=0, le=Decimal("99999999.99"), decimal_places=2, allow_inf_nan=False)]
MoneyOut = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json")]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{1,32}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Stock = Annotated[int, Field(ge=0, le=2_147_483_647)]


class ItemCreate(Body):
    name: Name
    price: MoneyIn
    description: Description = ""
    sku: Sku | None = None
    stock: Stock = 0


class ItemUpdate(Body):
    name: Name = None  # type: ignore[assignment]
    price: MoneyIn = None  # type: ignore[assignment]
    description: Description = None  # type: ignore[assignment]
    sku: Sku | None = None
    stock: Stock = None  # type: ignore[assignment]


class ItemQuery(PageQuery):
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    min_price: MoneyIn | None = None
    max_price: MoneyIn | None = None
    in_stock: bool | None = None
    sort: Literal["name", "-name", "price", "-price", "created_at", "-created_at"] = "name"


class ItemOut(Out):
    id: int
    sku: str | None
    name: str
    description: str
    price: MoneyOut
    stock: int
    created_at: datetime
    updated_at: datetime


class ItemPage(Page[ItemOut]):
    pass
