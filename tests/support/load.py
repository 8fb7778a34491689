"""A small, bounded HTTP load for the fault and lifecycle tests: a few threads, each on its own
keep-alive session, sending 70% GET post, 20% GET page, 10% POST comment (every other one with an
Idempotency-Key), every outcome recorded."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.support.http import PASSWORD


@dataclass(frozen=True)
class Outcome:
    kind: str  # "post", "page" or "comment"
    started: float  # time.monotonic()
    ended: float
    status: int | None = None  # None: no response (see error)
    error: str | None = None  # "connection" (refused, reset, closed mid-way), "timeout", or a class name
    cache: str | None = None
    retry_after: str | None = None
    media_type: str | None = None
    comment_id: int | None = None


@dataclass
class Load:
    base: str
    post_id: int
    headers: dict[str, str]
    threads: int = 4
    pause: float = 0.005  # between one thread's requests: keeps a 2-core machine responsive
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self, n: int) -> None:
        rng = random.Random(n)
        session = requests.Session()
        count = 0
        while not self._stop.is_set():
            roll = rng.random()
            count += 1
            started = time.monotonic()
            try:
                if roll < 0.7:
                    kind = "post"
                    response = session.get(f"{self.base}/api/v1/posts/{self.post_id}", timeout=10)
                elif roll < 0.9:
                    kind = "page"
                    response = session.get(f"{self.base}/api/v1/posts?page=1", timeout=10)
                else:
                    kind = "comment"
                    response = session.post(
                        f"{self.base}/api/v1/posts/{self.post_id}/comments",
                        json={"content": f"load comment {n}-{count}"},
                        # Every other one with a key: the idempotency stores take part in the faults.
                        headers={**self.headers, "Idempotency-Key": f"load-{n}-{count}"}
                        if count % 2
                        else self.headers,
                        timeout=10,
                    )
                comment_id = (
                    response.json()["id"] if kind == "comment" and response.status_code == 201 else None
                )
                outcome = Outcome(
                    kind,
                    started,
                    time.monotonic(),
                    status=response.status_code,
                    cache=response.headers.get("X-Cache"),
                    retry_after=response.headers.get("Retry-After"),
                    media_type=response.headers.get("Content-Type"),
                    comment_id=comment_id,
                )
            except requests.Timeout:
                outcome = Outcome(kind, started, time.monotonic(), error="timeout")
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # Refused, reset, or closed before or during the response.
                outcome = Outcome(kind, started, time.monotonic(), error="connection")
            except Exception as exc:  # anything else is recorded too: a load thread never dies
                outcome = Outcome(kind, started, time.monotonic(), error=type(exc).__name__)
            with self._lock:
                self.outcomes.append(outcome)
            time.sleep(self.pause)
        session.close()

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            key = str(outcome.status) if outcome.status is not None else str(outcome.error)
            counts[key] = counts.get(key, 0) + 1
        return counts


def user_and_post(base: str) -> tuple[dict[str, str], int]:
    """A user's bearer headers and a published post of theirs, for the load to read and comment on."""
    body = {"username": "loader", "email": "loader@example.com", "password": PASSWORD}
    assert requests.post(f"{base}/api/v1/auth/register", json=body, timeout=10).status_code == 201
    login = {"username": "loader", "password": PASSWORD}
    token = requests.post(f"{base}/api/v1/auth/login", json=login, timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    post = requests.post(
        f"{base}/api/v1/posts",
        json={"title": "Under load", "content": "x", "status": "published"},
        headers=headers,
        timeout=10,
    )
    assert post.status_code == 201
    return headers, post.json()["id"]
