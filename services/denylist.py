"""Revoked access tokens (by jti) and refresh families, shared by every process until they expire.

The database row is the record; Redis, when configured, answers the per-request check without
a query. If Redis fails the check falls back to the database, so revocation never lapses.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy import exists, select

from models import RevokedAccessToken
from services.uow import UnitOfWork

log = logging.getLogger(__name__)


def family_key(family_id: str) -> str:
    return f"fam:{family_id}"


class Denylist:
    def __init__(self, redis_client=None, prefix: str = "inkwell") -> None:  # type: ignore[no-untyped-def]
        self._redis = redis_client
        self._prefix = f"{prefix}:deny:"

    def revoke(self, uow: UnitOfWork, key: str, until: int) -> None:
        """Deny `key` until the unix time `until` (the longest a token it covers can live)."""
        until_dt = datetime.fromtimestamp(until, UTC)
        row = uow.session.get(RevokedAccessToken, key)
        if row is None:
            uow.session.add(RevokedAccessToken(jti=key, expires_at=until_dt))
        elif row.expires_at < until_dt:
            row.expires_at = until_dt
        if self._redis is not None:
            ttl = max(1, until - int(time.time()))
            try:
                self._redis.set(self._prefix + key, "1", ex=ttl)
            except Exception as exc:  # the database row still holds; see is_denied
                log.warning("denylist: redis write failed (%s); the database keeps the record", exc)

    def is_denied(self, uow: UnitOfWork, keys: list[str]) -> bool:
        if self._redis is not None:
            try:
                return bool(self._redis.exists(*[self._prefix + k for k in keys]))
            except Exception as exc:
                log.warning("denylist: redis read failed (%s); asking the database", exc)
        now = datetime.now(UTC)
        stmt = select(exists().where(RevokedAccessToken.jti.in_(keys), RevokedAccessToken.expires_at > now))
        return bool(uow.session.scalar(stmt))
