"""Revoked access tokens (by jti) and revoked refresh families, until the tokens they cover expire.

They live in the database, which every process shares and which outlives a Redis restart: a
denylist kept only in Redis (run here without persistence) would forget every logout when Redis
restarts, and one whose Redis write failed during an outage would let the token back in.
The per-request check is an EXISTS folded into the query that loads the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, exists

from models import RevokedAccessToken
from services.uow import UnitOfWork


def family_key(family_id: str) -> str:
    return f"fam:{family_id}"


def revoke(uow: UnitOfWork, key: str, until: int) -> None:
    """Deny `key` until the unix time `until` (the longest a token it covers can live)."""
    until_dt = datetime.fromtimestamp(until, UTC)
    row = uow.session.get(RevokedAccessToken, key)
    if row is None:
        uow.session.add(RevokedAccessToken(jti=key, expires_at=until_dt))
    elif row.expires_at < until_dt:
        row.expires_at = until_dt


def any_denied(keys: list[str]) -> ColumnElement[bool]:
    """True when any of `keys` is denied now."""
    return exists().where(RevokedAccessToken.jti.in_(keys), RevokedAccessToken.expires_at > datetime.now(UTC))
