"""What create_app builds once and every request shares: settings, database, the services' config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.db import Database
from core.metrics import Exposition, Metrics
from core.redis import RedisClient
from core.settings import Settings
from services.config import ServiceConfig
from services.uow import TotalCache, UnitOfWork


@dataclass
class Container:
    settings: Settings
    db: Database
    services: ServiceConfig  # every unit of work carries it
    metrics: Metrics
    exposition: Exposition  # what /metrics serves
    redis: RedisClient | None = None
    openapi: dict[str, Any] | None = None  # the OpenAPI document, built on first use
    # Set by the server while this worker drains before exiting: /readyz answers 503.
    draining: bool = False

    def unit_of_work(self, *, write: bool, totals: TotalCache | None = None) -> UnitOfWork:
        """A unit of work on a new session (a writer's on SQLite), with the services' config."""
        return UnitOfWork(self.db.session(write=write), self.services, totals=totals)
