"""What the services are configured with, given once: every unit of work carries it.

Resources, the console and the CLI never pass settings to a service call; the service reads
`uow.config`, and asks `uow.config.clock` what time it is, so a test moves the clock instead
of sleeping. Access tokens keep PyJWT's own clock (it checks `exp` and `nbf` itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Protocol

from core.settings import Settings
from services.cursors import Cursors
from services.tokens import AccessTokens


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    tokens: AccessTokens
    refresh_ttl_seconds: int
    tiers: MappingProxyType[str, str]  # rate-limit tier name -> budget ("" : unlimited)
    max_keys_per_user: int  # live API keys one user may hold (0: no cap)
    cursors: Cursors
    search_timeout_ms: int
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> ServiceConfig:
        return cls(
            tokens=AccessTokens(settings.auth),
            refresh_ttl_seconds=settings.auth.refresh_ttl_seconds,
            tiers=MappingProxyType(dict(settings.rate_limit.tiers)),
            max_keys_per_user=settings.api_keys.max_per_user,
            cursors=Cursors(settings.auth.secret_key),
            search_timeout_ms=settings.search.timeout_ms,
            clock=clock or SystemClock(),
        )
