from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from schemas.common import NOT_BLANK, Body, Id, Out, Page, PageQuery, UTCTime

Scope = Literal["read", "posts:write", "comments:write", "items:write", "keys:write"]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class LoginIn(Body):
    username: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class RefreshIn(Body):
    refresh_token: Secret


class LogoutIn(Body):
    refresh_token: Secret | None = None


class TokenPair(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: Annotated[int, Field(ge=1)]


class ApiKeyCreate(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NOT_BLANK)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    # RFC 3339 with an offset: a time without one is ambiguous (422, never compared naively).
    expires_at: Annotated[
        UTCTime | None,
        Field(
            description="When an API key creates the key: never later than that key's expiry, "
            "and left out, the new key expires with it."
        ),
    ] = None


class ApiKeyUpdate(Body):
    tier: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class ApiKeyQuery(PageQuery):
    all: bool = False


class ApiKeyOut(Out):
    id: Id
    name: str  # the CLI's create-api-key takes any name
    prefix: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]
    scopes: list[Scope]
    tier: str  # a configured tier's name
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool


class ApiKeyCreated(ApiKeyOut):
    key: Annotated[str, StringConstraints(pattern=r"^iwk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")]


class ApiKeyPage(Page[ApiKeyOut]):
    pass
