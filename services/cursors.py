"""List cursors: a position in one list (the last row's sort key and id), with the filters and sort
it was read under, as an opaque string signed with the server's secret (itsdangerous).

Signed, not encrypted: a cursor holds nothing its reader has not seen (a sort value and an id of
a row on the page it came with, and the query they sent).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from services.errors import Invalid

LOC = ("query", "cursor")


def _encode(value: Any) -> Any:
    """JSON for a sort key: times and decimals tagged, so they come back as what was read."""
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return datetime.fromisoformat(value["t"]) if "t" in value else Decimal(value["d"])
    return value


class Cursors:
    """Thread-safe: the serializer keeps no state between calls."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="inkwell.list-cursor")

    def dump(self, list_name: str, filters: dict[str, Any], key: Any, row_id: int) -> str:
        return self._serializer.dumps({"l": list_name, "f": filters, "k": _encode(key), "i": row_id})

    def load(self, token: str, list_name: str) -> tuple[dict[str, Any], Any, int]:
        """The filters, sort key and id a cursor holds; a 422 on `query.cursor` unless it is one
        this server signed for this list."""
        try:
            payload = self._serializer.loads(token)
            if payload["l"] != list_name:
                raise Invalid("this cursor belongs to another list", loc=LOC)
            filters, key, row_id = payload["f"], _decode(payload["k"]), payload["i"]
        except (BadData, KeyError, TypeError, ValueError, ArithmeticError):
            raise Invalid("not a cursor this API gave out (use a next_cursor as it came)", loc=LOC) from None
        if not isinstance(filters, dict) or not isinstance(row_id, int):
            raise Invalid("not a cursor this API gave out (use a next_cursor as it came)", loc=LOC)
        return filters, key, row_id
