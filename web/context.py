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
from web.versions import Namespace

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
class Reads:
    """The Redis keys this request's steps want read before they run, and what was read
    (web/roundtrip.py sends them; each step takes its own values back by key)."""

    keys: list[str] = field(default_factory=list)
    values: dict[str, Any] | None = None  # None: not read (no Redis, or it failed)

    def want(self, *keys: str) -> None:
        self.keys += keys

    def value(self, key: str) -> tuple[bool, Any]:
        """(read, raw value): read is False when the key was not part of a round trip."""
        values = self.values
        if values is None or key not in values:
            return False, None
        return True, values[key]

    def taken(self, keys: list[str]) -> list[Any] | None:
        """The raw values of `keys`, or None unless the round trip read every one of them."""
        values = self.values
        if values is None:
            return None
        try:
            return [values[key] for key in keys]
        except KeyError:
            return None


@dataclass(slots=True)
class CacheState:
    """What the response cache planned and found for this GET."""

    namespace: Namespace
    keys: list[str] = field(default_factory=list)  # entry, namespace version[, list total]
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
    reads: Reads = field(default_factory=Reads)
    uow: UnitOfWork | None = None
    totals: TotalCache | None = None  # the response cache's list total, handed to the unit of work
    rate: RateWindow | None = None
    cache: CacheState | None = None
    idempotency: Any = None  # the reservation to complete once the response is known
    replayed: bool = False
    touch_key_id: int | None = None
    # Cache namespaces a console page's completed write bumps (API operations declare theirs).
    invalidates: tuple[Namespace, ...] = ()


# Typed locals, not cast(): Flask's extensions and g hold Any, and these run on every request.
def container() -> Container:
    built: Container = current_app.extensions["inkwell"]
    return built


def state() -> RequestState:
    current: RequestState = g.inkwell
    return current


def current_actor() -> Actor | None:
    current: RequestState = g.inkwell
    return current.actor


def uow() -> UnitOfWork:
    """The request's unit of work, opened on first use (cached reads never touch the database)."""
    current: RequestState = g.inkwell
    if current.uow is None:
        current.uow = container().unit_of_work(
            write=current.method not in SAFE_METHODS, totals=current.totals
        )
    return current.uow
