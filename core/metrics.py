"""Prometheus metrics, correct under `serve --workers N` (prometheus-client multiprocess mode).

entrypoints/server.py sets PROMETHEUS_MULTIPROC_DIR before forking; each worker then writes its values
to files there and /metrics sums every worker's files. Without it (one process, tests) the
metrics live in a per-app registry.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from sqlalchemy import Engine, event

from adapters import prometheus

# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Latency buckets for a JSON API whose hot paths answer in milliseconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    # Shared by the server's threads: two may create a label set's children at once; labels()
    # hands both the same child, so no count is lost.
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    cache: Counter
    refusals: Counter
    pool_in_use: Gauge
    # labels() validates and locks on every call: each label set's children are kept instead.
    _by_request: dict[tuple[str, str, int], tuple[Any, Any]] = field(default_factory=dict)
    _by_cache_result: dict[str, Any] = field(default_factory=dict)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one response and its latency (labels from bounded sets: web/telemetry.py)."""
        children = self._by_request.get((method, route, status))
        if children is None:
            children = self._by_request[(method, route, status)] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_cache(self, result: str) -> None:
        child = self._by_cache_result.get(result)
        if child is None:
            child = self._by_cache_result[result] = self.cache.labels(result)
        child.inc()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir() -> str:
    """Called once by the server before forking: a clean directory every worker writes into."""
    path = multiprocess_dir() or tempfile.mkdtemp(prefix="inkwell-metrics-")
    os.makedirs(path, exist_ok=True)
    # Counts left by an earlier run would be summed into this one's.
    for stale in Path(path).glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = path
    prometheus.use_multiprocess_values()
    return path


def worker_exited(pid: int) -> None:
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)


def build() -> Metrics:
    if multiprocess_dir():
        os.makedirs(multiprocess_dir() or "", exist_ok=True)
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter(
            "inkwell_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "inkwell_http_request_duration_seconds",
            "Time from the request id (pipeline step 1) to the response, by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        ),
        cache=Counter(
            "inkwell_cache_results", "Cacheable GETs by X-Cache result.", ["result"], registry=registry
        ),
        refusals=Counter(
            "inkwell_rate_limit_refusals",
            "Requests refused with 429, by route.",
            ["route"],
            registry=registry,
        ),
        pool_in_use=Gauge(
            "inkwell_db_pool_connections_in_use",
            "Database connections checked out of the pool (summed over live workers).",
            registry=registry,
            multiprocess_mode="livesum",
        ),
    )


class Exposition:
    """The text a scrape gets, rendered at most once per `min_interval` seconds in this process:
    rendering reads every worker's files, so a burst of scrapes must not cost a burst of renders.
    One lock: concurrent scrapes wait for one render instead of each doing their own."""

    def __init__(self, metrics: Metrics, min_interval: float) -> None:
        self.metrics = metrics
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._rendered: tuple[float, bytes] | None = None

    def render(self) -> tuple[bytes, str]:
        with self._lock:
            now = time.monotonic()
            if self._rendered is None or now - self._rendered[0] >= self.min_interval:
                self._rendered = (now, self._generate())
            return self._rendered[1], CONTENT_TYPE_LATEST

    def _generate(self) -> bytes:
        if multiprocess_dir():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.metrics.registry)


COUNTED = "inkwell_counted"  # in a pooled connection's info while the gauge counts it


def watch_pool(engine: Engine, metrics: Metrics) -> None:
    """The pool gauge follows the pool's own checkout and checkin events, so a request that runs
    no SQL (a cached GET) pays nothing for it. A checkin is also fired for a checkout that failed
    (a reconnect or a pre-ping that failed) with no checkout event before it: only a connection
    the gauge counted takes it down again."""

    def checked_out(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.info[COUNTED] = True
        metrics.pool_in_use.inc()

    def checked_in(_dbapi: Any, record: Any) -> None:
        if record.info.pop(COUNTED, False):
            metrics.pool_in_use.dec()

    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", checked_in)
