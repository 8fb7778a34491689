"""Housekeeping: rows that can no longer change any answer."""

from __future__ import annotations

from sqlalchemy import delete

from models import IdempotencyRecord, RefreshToken, RevokedAccessToken
from services.uow import UnitOfWork


def purge_expired(*, uow: UnitOfWork) -> dict[str, int]:
    """Delete expired denylist entries, idempotency records and refresh tokens; one commit.

    A spent refresh token is kept until it expires (its reuse must still revoke the family);
    after that no request can present it successfully, so it can go.
    """
    now = uow.now()
    counts = {}
    for name, model in (
        ("revoked_access_tokens", RevokedAccessToken),
        ("idempotency_keys", IdempotencyRecord),
        ("refresh_tokens", RefreshToken),
    ):
        result = uow.session.execute(delete(model).where(model.expires_at <= now))
        counts[name] = getattr(result, "rowcount", 0) or 0  # a DML result (CursorResult) has one
    uow.commit()
    return counts
