"""What create_app builds once and every request shares: settings, database, token tools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.db import Database
from core.metrics import Exposition, Metrics
from core.settings import Settings
from services.tokens import AccessTokens


@dataclass
class Container:
    settings: Settings
    db: Database
    tokens: AccessTokens
    metrics: Metrics
    exposition: Exposition  # what /metrics serves
    redis: Any = None
    openapi: dict[str, Any] | None = None  # the OpenAPI document, built on first use
    # Set by the server while this worker drains before exiting: /readyz answers 503.
    draining: bool = False
