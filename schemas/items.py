from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from schemas.common import Body, Out, Page, PageQuery, omittable

# Money: a JSON number or string in, never NaN/Infinity, at most 2 decimals; a 2-decimal string out.
MONEY_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 99999999.99, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?$"},
    ],
    "examples": ["19.90"],
}
MoneyIn = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("99999999.99"), decimal_places=2, allow_inf_nan=False),
    WithJsonSchema(MONEY_SCHEMA, mode="validation"),
    AfterValidator(lambda d: d + 0),  # "-0" is zero: one representation, one ETag
]
MoneyOut = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json")]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{1,32}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=2000)]
# JSON Schema's "integer" includes 3.0; strict pydantic would not, so integral floats become ints.
Stock = Annotated[
    int,
    Field(ge=0, le=2_147_483_647),
    BeforeValidator(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v),
]


class ItemCreate(Body):
    name: Name
    price: MoneyIn
    description: Description = ""
    sku: Sku | None = None
    stock: Stock = 0


class ItemUpdate(Body):
    name: Name = omittable()
    price: MoneyIn = omittable()
    description: Description = omittable()
    sku: Sku | None = None
    stock: Stock = omittable()


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
