"""Per-request metrics and the access log line, from hooks that see the final response."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from core import metrics
from resources.context import current_actor, state

access = logging.getLogger("inkwell.access")


def _start() -> None:
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = response.status_code
    container = state()
    m: metrics.Metrics = container.extras["metrics"]
    m.requests.labels(request.method, route, str(status)).inc()
    m.latency.labels(request.method, route).observe(elapsed)
    cache = response.headers.get("X-Cache")
    if cache:
        m.cache.labels(cache.upper()).inc()
    if status == 429:
        m.refusals.labels(route).inc()
    metrics.update_pool(container)
    if access.isEnabledFor(logging.INFO):
        actor = current_actor() if "actor" in g else None
        access.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            status,
            elapsed * 1000,
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "identity": actor.kind if actor else "anonymous",
                "client": request.remote_addr,
            },
        )
    return response


def install(app: Flask) -> None:
    """Register before the other hooks: after_request runs in reverse, so this one runs last."""
    app.extensions["inkwell"].extras["metrics"] = metrics.build()
    app.before_request(_start)
    app.after_request(_finish)
