"""Who a credential is, remembered per process so an authenticated cached GET runs no SQL.

The database stays the truth. Every write that can take a credential's rights away (logout, a
refresh token's reuse, a password change, a revoked key, a tier or role change, a deleted user)
declares the `auth` namespace among what it invalidates, and the pipeline bumps that namespace's
version after it committed, like any response-cache namespace (web/cache.py). Each remembered
caller is stamped with the version read *before* the database was asked, and each request reads
the current version in the rate limiter's round trip: any change (a bump, or a Redis that
restarted empty or failed over) makes every remembered caller unusable, and the next request
asks the database again. While Redis cannot be read, nothing is remembered or trusted.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime

from services.actor import Actor
from services.config import Clock

AUTH_NAMESPACE = "auth"
MAX_ENTRIES = 10_000  # a process remembers at most this many credentials, then starts over


TOUCH_INTERVAL = 60.0  # an API key's last_used_at is recorded at most this often per process


@dataclass(slots=True)
class Remembered:
    actor: Actor
    version: int
    expires_at: float | None  # epoch seconds: the token's exp + leeway, or the key's expiry
    touched: float  # monotonic time this process last recorded the key's use

    def touch_due(self) -> bool:
        now = time.monotonic()
        if self.actor.key_id is None or now - self.touched < TOUCH_INTERVAL:
            return False
        self.touched = now
        return True


class CredentialCache:
    # Shared by the server's threads: every access is one dict operation (atomic under the GIL),
    # and none assumes an entry another thread may have removed meanwhile.
    def __init__(self, leeway_seconds: int, clock: Clock) -> None:
        self.leeway = leeway_seconds
        self.clock = clock  # the services' (a key's expiry is theirs to decide)
        self._entries: dict[bytes, Remembered] = {}

    @staticmethod
    def fingerprint(kind: str, secret: str) -> bytes:
        """Only a hash of the secret is kept as the key."""
        return hashlib.blake2b(f"{kind}\0{secret}".encode(), digest_size=20).digest()

    def get(self, fingerprint: bytes) -> Remembered | None:
        entry = self._entries.get(fingerprint)
        if (
            entry is not None
            and entry.expires_at is not None
            and self.clock.now().timestamp() >= entry.expires_at
        ):
            self._entries.pop(fingerprint, None)  # another thread may have removed it already
            return None
        return entry

    def remember(self, fingerprint: bytes, actor: Actor, version: int) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[fingerprint] = Remembered(actor, version, self._expiry(actor), time.monotonic())

    def forget_all(self) -> None:
        self._entries.clear()

    def _expiry(self, actor: Actor) -> float | None:
        if actor.token_expires_at is not None:
            return actor.token_expires_at + self.leeway
        expires: datetime | None = actor.key_expires_at
        return expires.timestamp() if expires is not None else None
