from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.common import NOT_BLANK, Body, Count, Id, Out, Page, SyncQuery, omittable

IMPORT_MAX = 1000  # items in one import: one INSERT statement of them stays within both databases' limits

# Money: a JSON number or string in, never NaN/Infinity, at most 2 decimals; a 2-decimal string out.
MONEY_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": 99999999.99, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?$"},
    ],
    "description": "Plain decimal notation, as a JSON number (at most 15 digits) or a string; "
    "no exponent. At most 2 decimals, 0 to 99999999.99.",
    "examples": ["19.90"],
}
# Decimal() alone also reads "5_0", " 5", "1e3" and digits of any script.
PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# A JSON number of up to 15 digits survives the trip through a double exactly (DBL_DIG).
MAX_NUMBER_DIGITS = 15


def _money(value: object) -> object:
    if isinstance(value, str):
        if PLAIN_DECIMAL.fullmatch(value) is None:
            raise PydanticCustomError(
                "money_format",
                "must be plain decimal notation such as 19.90: ASCII digits, an optional leading '-' "
                "and '.', no exponent, spaces or '_'",
            )
        return Decimal(value)
    # Strict mode takes only Decimal instances once a validator runs first; bool is no number.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(str(value))
    return value


MoneyIn = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("99999999.99"), decimal_places=2, allow_inf_nan=False),
    WithJsonSchema(MONEY_SCHEMA, mode="validation"),
    AfterValidator(lambda d: d + 0),  # "-0" is zero: one representation, one ETag
    BeforeValidator(_money),
]


class _Number(str):
    """A JSON number as written."""


def _number_error(literal: str) -> str | None:
    if PLAIN_DECIMAL.fullmatch(literal) is None:
        return "a JSON number must be plain decimal notation such as 19.90, without an exponent"
    if sum(c.isdigit() for c in literal) > MAX_NUMBER_DIGITS:
        return f"a JSON number has at most {MAX_NUMBER_DIGITS} digits (more cannot be read exactly)"
    return None


class MoneyBody(Body):
    """A body with a price, whose JSON number is checked as written before pydantic reads it.

    pydantic turns a JSON number into a double before any validator sees it (1e-999999999
    becomes 0, 19.9000000000000000001 becomes 19.9) and calls an integer of more than 4,300
    digits invalid JSON (a 400): the literal itself is the only place to judge it.
    """

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Any:
        try:
            text = json_data if isinstance(json_data, str) else bytes(json_data).decode()
            data = json.loads(text, parse_int=_Number, parse_float=_Number)
        except (ValueError, RecursionError):  # not JSON (or too deep to read here): pydantic judges it
            data = None
        details: list[InitErrorDetails] = []
        for loc, literal in cls._prices(data):
            message = _number_error(literal) if isinstance(literal, _Number) else None
            if message is not None:
                error = PydanticCustomError("money_format", message)
                details.append({"type": error, "loc": loc, "input": str(literal)})
        if details:
            raise ValidationError.from_exception_data(cls.__name__, details)
        return super().model_validate_json(json_data, **kwargs)

    @classmethod
    def _prices(cls, data: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
        """Where the body's prices are, and each as written."""
        if isinstance(data, dict):
            yield ("price",), data.get("price")


MoneyOut = Annotated[
    Decimal,
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,8}\.[0-9]{2}$"}, mode="serialization"),
]
Sku = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{1,32}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
NameIn = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NOT_BLANK)]
Description = Annotated[str, StringConstraints(max_length=2000)]
# JSON Schema's "integer" includes 3.0; strict pydantic would not, so integral floats become ints.
Stock = Annotated[
    int,
    Field(ge=0, le=2_147_483_647),
    BeforeValidator(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v),
]


class ItemCreate(MoneyBody):
    name: NameIn
    price: MoneyIn
    description: Description = ""
    sku: Sku | None = None
    stock: Stock = 0


class ImportedItem(ItemCreate):
    sku: Sku  # an import matches rows by SKU


class ItemImport(MoneyBody):
    items: Annotated[list[ImportedItem], Field(min_length=1, max_length=IMPORT_MAX)]
    # What an item whose SKU exists does: replace that item's fields with its own (as PUT does),
    # leave it as it is, or make the whole import a 409.
    on_conflict: Literal["update", "skip", "fail"] = "fail"

    @classmethod
    def _prices(cls, data: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
        rows = data.get("items") if isinstance(data, dict) else None
        for i, row in enumerate(rows if isinstance(rows, list) else []):
            if isinstance(row, dict):
                yield ("items", i, "price"), row.get("price")


class ItemImportResult(Out):
    created: Count
    updated: Count
    skipped: Count
    ids: Annotated[list[Id], Field(min_length=1, max_length=IMPORT_MAX)]  # one per input item, in order


class ItemUpdate(MoneyBody):
    name: NameIn = omittable()
    price: MoneyIn = omittable()
    description: Description = omittable()
    sku: Sku | None = None
    stock: Stock = omittable()


class ItemQuery(SyncQuery):
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    min_price: MoneyIn | None = None
    max_price: MoneyIn | None = None
    in_stock: bool | None = None
    sort: Literal[
        "name", "-name", "price", "-price", "created_at", "-created_at", "updated_at", "-updated_at"
    ] = "name"


class ItemOut(Out):
    id: Id
    sku: Sku | None
    name: Name
    description: Description
    price: MoneyOut
    stock: Count
    created_at: datetime
    updated_at: datetime


class ItemPage(Page[ItemOut]):
    pass
