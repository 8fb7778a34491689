"""The per-process credential cache under threads: an expired entry seen by several at once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from services.actor import Actor
from web.credentials import CredentialCache


def test_many_threads_meeting_one_expired_credential_all_get_none() -> None:
    class SlowClock:
        def now(self) -> datetime:
            time.sleep(0.0005)  # every thread checks the expiry before any removes the entry
            return datetime.now(UTC)

    cache = CredentialCache(leeway_seconds=0, clock=SlowClock())
    actor = Actor(user_id=1, username="alice", role="user", scopes=frozenset({"read"}), token_expires_at=0)
    fingerprint = cache.fingerprint("bearer", "token")
    errors: list[BaseException] = []
    results: list[object] = []

    def look(start: threading.Barrier) -> None:
        start.wait()
        try:
            results.append(cache.get(fingerprint))
        except BaseException as exc:
            errors.append(exc)

    for _ in range(100):
        cache.remember(fingerprint, actor, 1)  # expired already: exp 0, no leeway
        start = threading.Barrier(4)
        threads = [threading.Thread(target=look, args=(start,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert len(results) == 400 and set(results) == {None}
