"""The one per-request state object every pipeline step reads and writes (no loose `g` keys)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app, g
from pydantic import BaseModel

from services.actor import Actor
from services.uow import TotalCache, UnitOfWork
from web.container import Container

if TYPE_CHECKING:
    from web.contract import Operation

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(slots=True)
class RateWindow:
    """The limit closest to refusing this request, for its rate-limit headers."""

    policy: str
    limit: int
    remaining: int
    reset_at: float
    window_seconds: int
    refused: bool = False


@dataclass(slots=True)
class CacheState:
    """What the response cache planned and found for this GET."""

    keys: list[str] = field(default_factory=list)  # entry, namespace version[, list total]
    fetched: list[Any] | None = None  # raw values read in the limiter's round trip
    result: str | None = None  # X-Cache: HIT, MISS or BYPASS
    fill: tuple[str, str] | None = None  # (entry key, version stamp) to store a MISS under
    total: tuple[str, str, Any] | None = None  # (total key, version stamp, cached value)


@dataclass(slots=True)
class RequestState:
    request_id: str
    method: str
    started: float = field(default_factory=time.perf_counter)
    operation: Operation | None = None  # None: no route matched (404, 405) or an unknown method
    actor: Actor | None = None
    auth_failure: Exception | None = None  # raised after the limiter has counted the request
    query: BaseModel | None = None  # the declared query model, parsed before the cache's plan
    query_failure: Exception | None = None  # raised at step 7, after the limiter
    credential: tuple[bytes, int] | None = None  # a remembered caller: (fingerprint, version stamp)
    auth_version: int | None = None  # the auth namespace's version, when the limiter read it
    auth_version_read: bool = False
    uow: UnitOfWork | None = None
    totals: TotalCache | None = None  # the response cache's list total, handed to the unit of work
    rate: RateWindow | None = None
    cache: CacheState | None = None
    idempotency: Any = None  # the reservation to complete once the response is known
    replayed: bool = False
    touch_key_id: int | None = None
    # Cache namespaces a console page's completed write bumps (API operations declare theirs).
    invalidates: tuple[str, ...] = ()


def container() -> Container:
    return current_app.extensions["inkwell"]


def state() -> RequestState:
    return g.inkwell


def current_actor() -> Actor | None:
    return g.inkwell.actor


def uow() -> UnitOfWork:
    """The request's unit of work, opened on first use (cached reads never touch the database)."""
    current = g.inkwell
    if current.uow is None:
        current.uow = UnitOfWork(
            container().db.session(write=current.method not in SAFE_METHODS), totals=current.totals
        )
    return current.uow
