"""A clock the tests move: every test app's services read it (services/config.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class MovableClock:
    """The real time plus an offset that only advance() changes."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
