from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.common import Body, Out, Page, PageQuery

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
    expires_in: int


class ApiKeyCreate(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=5)]
    # RFC 3339 with an offset: a time without one is ambiguous (422, never compared naively).
    expires_at: Annotated[
        AwareDatetime | None,
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
    id: int
    name: str
    prefix: str
    scopes: list[str]
    tier: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool


class ApiKeyCreated(ApiKeyOut):
    key: str


class ApiKeyPage(Page[ApiKeyOut]):
    pass
