"""Who is calling: a user, possibly narrowed by an API key's scopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.errors import Forbidden, Unauthorized

ALL_SCOPES = frozenset({"read", "posts:write", "comments:write", "items:write", "keys:write"})
ADMIN_ONLY_SCOPES = frozenset({"items:write"})


def scopes_of_role(role: str) -> frozenset[str]:
    """The rights a role carries; a key can never exceed its owner's."""
    return ALL_SCOPES if role == "admin" else ALL_SCOPES - ADMIN_ONLY_SCOPES


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    username: str
    role: str
    scopes: frozenset[str]
    key_id: int | None = None
    tier: str | None = None
    key_expires_at: datetime | None = None
    token_id: str | None = None
    family_id: str | None = None
    token_expires_at: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def kind(self) -> str:
        return "api_key" if self.key_id is not None else "user"

    def can(self, scope: str) -> bool:
        return scope in self.scopes


def require(actor: Actor | None, scope: str) -> Actor:
    """The caller, if authenticated and allowed `scope`; else 401 or 403."""
    if actor is None:
        raise Unauthorized("authentication required")
    if not actor.can(scope):
        raise Forbidden(f"this credential lacks the '{scope}' right")
    return actor
