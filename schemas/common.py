"""Shapes shared by every resource: strict bodies, pagination, the list envelope, problems."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

# A text a person writes (a title, a name, a comment): at least one character that is not a
# space, tab or line break, and, like every free text (NO_NUL below), no NUL. The characters are
# spelled out: `\s` means different sets in ECMA (the document's readers), Rust (pydantic) and
# Python. On input models only, so a row stored before the rule still reads back.
NOT_BLANK = "^[^\\x00]*[^\\x00\\t\\n\\v\\f\\r ][^\\x00]*$"
NOT_BLANK_MESSAGE = "must contain a character other than spaces, tabs and line breaks"


def message(error: Any) -> str:
    """A pydantic error's message, as a person reads it (`error` with its context)."""
    if error["type"] == "string_pattern_mismatch" and error.get("ctx", {}).get("pattern") == NOT_BLANK:
        return NOT_BLANK_MESSAGE
    return str(error["msg"])


# A cursor holds the filters of the page it came with; the longest filters fit with room to spare.
CURSOR_MAX = 4096

# Ids are INTEGER columns: a larger number can name nothing (and PostgreSQL rejects it as a bind).
MAX_ID = 2_147_483_647

# Shapes of what responses carry, so the document states lengths and ranges (outputs too).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Count = Annotated[int, Field(ge=0)]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("this time is outside the years 1-9999 once converted to UTC") from None


# An RFC 3339 time with an offset (a naive one is ambiguous), held in UTC.
UTCTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339_text(value: object) -> object:
    """A query's time as RFC 3339 text only: lax parsing also takes numbers ("0.5") as Unix times."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 time with an offset, like 2026-11-21T10:05:00Z")
    return value


QueryTime = Annotated[UTCTime, BeforeValidator(_rfc3339_text)]


def reject_nul(value: object) -> object:
    """PostgreSQL text cannot hold NUL (SQLite can): refuse it at the edge, the same on both."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


NO_NUL = "^[^\\x00]*$"


def document_no_nul(schema: dict[str, Any]) -> None:
    """Say in the schema what reject_nul enforces: free-text strings carry a no-NUL pattern."""

    def mark(node: dict[str, Any]) -> None:
        if (
            node.get("type") == "string"
            and "pattern" not in node
            and "enum" not in node
            and "format" not in node
        ):
            node["pattern"] = NO_NUL
        for option in node.get("anyOf", []):
            mark(option)

    for prop in schema.get("properties", {}).values():
        mark(prop)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable() -> Any:
    """A PATCH field: leave it out to keep the value; null is not a value (422), nor documented."""
    return Field(None, json_schema_extra=_no_default)


class Body(BaseModel):
    """Request bodies: unknown fields are errors and JSON types are not coerced."""

    model_config = ConfigDict(
        extra="forbid", strict=True, str_strip_whitespace=False, json_schema_extra=document_no_nul
    )

    _no_nul = field_validator("*", mode="after")(reject_nul)


class Query(BaseModel):
    """Query strings: values arrive as text, so types are converted; unknown names are errors."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=document_no_nul)

    _no_nul = field_validator("*", mode="after")(reject_nul)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageQuery(Query):
    # Any page past the end is an empty 200; the bound only keeps OFFSET within a BIGINT.
    page: int = Field(1, ge=1, le=MAX_ID)
    per_page: int = Field(20, ge=1, le=100)
    # A previous page's next_cursor (services/cursors.py); never together with page.
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=CURSOR_MAX)] | None = None


class SyncQuery(PageQuery):
    """A list a sync job can walk: rows changed at or after a time, oldest change first with
    sort=updated_at (posts, comments, items and users)."""

    updated_since: QueryTime | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """The list envelope; each resource subclasses it so the schema gets a clean name. In cursor
    mode (`?cursor=`) page and pages are null; next_cursor is null on the last page."""

    items: list[T]
    page: Annotated[int, Field(ge=1)] | None
    per_page: Annotated[int, Field(ge=1, le=100)]
    total: Count
    pages: Count | None
    next_cursor: Annotated[str, Field(min_length=1, max_length=CURSOR_MAX)] | None


class AuthorRef(Out):
    id: Id
    username: Annotated[str, Field(min_length=3, max_length=32)]


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is returned."""

    type: Annotated[str, Field(min_length=1, max_length=200)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str
    instance: Annotated[str, Field(min_length=1)]
    request_id: Annotated[str, Field(max_length=128)]
    errors: list[ErrorDetail] | None = None


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "fail"]
    # "server" appears only while this worker drains before exiting (always "fail" then).
    checks: dict[Literal["database", "redis", "server"], Literal["ok", "fail", "disabled"]]
