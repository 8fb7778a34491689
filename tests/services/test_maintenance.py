"""Housekeeping against the real databases: only expired rows go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from models import IdempotencyRecord, RefreshToken, RevokedAccessToken
from services.maintenance import purge_expired


def test_purge_deletes_only_expired_rows(api, app):
    user = api.register("alice")
    api.login("alice")  # one live refresh token
    db = app.extensions["inkwell"].db
    past, future = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    with db.session(write=True) as session:
        session.add_all(
            [
                RevokedAccessToken(jti="old", expires_at=past),
                RevokedAccessToken(jti="live", expires_at=future),
                IdempotencyRecord(scope_key="a" * 64, fingerprint="f" * 64, state="done", expires_at=past),
                RefreshToken(user_id=user["id"], family_id="fam", token_hash="h" * 64, expires_at=past),
            ]
        )
        session.commit()
    counts = purge_expired(uow=app.extensions["inkwell"].unit_of_work(write=True))
    assert counts == {"revoked_access_tokens": 1, "idempotency_keys": 1, "refresh_tokens": 1}
    with db.session(write=False) as session:
        assert session.scalars(select(RevokedAccessToken.jti)).all() == ["live"]
        assert session.scalar(select(func.count()).select_from(RefreshToken)) == 1
