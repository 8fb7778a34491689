"""What create_app builds once and every request shares: settings, database, token tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.db import Database
from core.metrics import Exposition
from core.settings import Settings
from services.tokens import AccessTokens


@dataclass
class Container:
    settings: Settings
    db: Database
    tokens: AccessTokens
    redis: Any = None
    exposition: Exposition | None = None  # what /metrics serves
    extras: dict[str, Any] = field(default_factory=dict)
    # Set by the server while this worker drains before exiting: /readyz answers 503.
    draining: bool = False
