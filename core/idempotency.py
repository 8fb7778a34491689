"""Where idempotency keys live: Redis (SET NX) or a database table (a unique INSERT).

Both reserve a key atomically before the request runs: the winner runs it, anyone else with
the same key sees "running" (409) or the stored response (replay). A reservation that is never
completed (a crashed process) expires after RUNNING_TTL so the key does not stay locked.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError

from core.db import Database
from models import IdempotencyRecord

KEEP = timedelta(hours=24)
RUNNING_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class Saved:
    fingerprint: str
    state: str  # "running" | "done"
    status: int = 0
    body: bytes = b""
    location: str | None = None
    content_type: str | None = None
    cache_control: str | None = None


class RedisStore:
    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = f"{prefix}:idem:"

    def reserve(self, scope: str, fingerprint: str) -> Saved | None:
        """None when this request now owns the key; else what is there."""
        key = self.prefix + scope
        marker = orjson.dumps({"f": fingerprint, "s": "running"})
        if self.client.set(key, marker, nx=True, px=int(RUNNING_TTL.total_seconds() * 1000)):
            return None
        raw = self.client.get(key)
        if raw is None:  # completed-and-released in between: report it as still running
            return Saved(fingerprint, "running")
        data = orjson.loads(raw)
        return Saved(
            data["f"],
            data["s"],
            data.get("c", 0),
            base64.b64decode(data.get("b", "")),
            data.get("l"),
            data.get("t"),
            data.get("cc"),
        )

    def complete(self, scope: str, fingerprint: str, saved: Saved) -> None:
        value = {
            "f": fingerprint,
            "s": "done",
            "c": saved.status,
            "b": base64.b64encode(saved.body).decode(),
            "l": saved.location,
            "t": saved.content_type,
            "cc": saved.cache_control,
        }
        self.client.set(self.prefix + scope, orjson.dumps(value), ex=int(KEEP.total_seconds()))

    def release(self, scope: str) -> None:
        self.client.delete(self.prefix + scope)


class DatabaseStore:
    """Each call is its own short transaction, apart from the request's unit of work."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def reserve(self, scope: str, fingerprint: str) -> Saved | None:
        for _attempt in range(2):
            now = datetime.now(UTC)
            with self.db.session(write=True) as session:
                session.add(
                    IdempotencyRecord(
                        scope_key=scope,
                        fingerprint=fingerprint,
                        state="running",
                        expires_at=now + RUNNING_TTL,
                    )
                )
                try:
                    session.commit()
                    return None
                except IntegrityError:
                    session.rollback()
            with self.db.session(write=True) as session:
                row = session.scalars(_by_scope(scope)).first()
                if row is None:
                    continue
                if row.expires_at > now:
                    return Saved(
                        row.fingerprint,
                        row.state,
                        row.status or 0,
                        row.body or b"",
                        row.location,
                        row.content_type,
                        row.cache_control,
                    )
                # Expired (a day-old response, or an abandoned reservation): take the key over.
                session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.scope_key == scope, IdempotencyRecord.expires_at <= now
                    )
                )
                session.commit()
        return Saved(fingerprint, "running")

    def complete(self, scope: str, fingerprint: str, saved: Saved) -> None:
        with self.db.session(write=True) as session:
            row = session.scalars(_by_scope(scope)).first()
            if row is None:
                return
            row.state = "done"
            row.status = saved.status
            row.body = saved.body
            row.location = saved.location
            row.content_type = saved.content_type
            row.cache_control = saved.cache_control
            row.expires_at = datetime.now(UTC) + KEEP
            session.commit()

    def release(self, scope: str) -> None:
        with self.db.session(write=True) as session:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.scope_key == scope))
            session.commit()


def _by_scope(scope: str) -> Select[IdempotencyRecord]:
    return select(IdempotencyRecord).where(IdempotencyRecord.scope_key == scope)
