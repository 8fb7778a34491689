"""Pipeline step 11: metrics and the access log line, from the final response."""

from __future__ import annotations

import logging
import time

from flask import Response, request

from core import metrics
from web.context import RequestState, container

access = logging.getLogger("inkwell.access")

# Every label comes from a bounded set: a client choosing the method (or the path) must not be
# able to mint new time series. Unknown methods are OTHER; unmatched paths are "<unmatched>".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def record(state: RequestState, response: Response) -> None:
    elapsed = time.perf_counter() - state.started
    method = state.method if state.method in METHODS else "OTHER"
    route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = response.status_code
    app = container()
    m: metrics.Metrics = app.extras["metrics"]
    m.requests.labels(method, route, str(status)).inc()
    m.latency.labels(method, route).observe(elapsed)
    if state.cache is not None and state.cache.result is not None:
        m.cache.labels(state.cache.result).inc()
    if status == 429:
        m.refusals.labels(route).inc()
    metrics.update_pool(app)
    if access.isEnabledFor(logging.INFO):
        actor = state.actor
        access.info(
            "%s %s %s %.1fms",
            method,
            request.path,
            status,
            elapsed * 1000,
            extra={
                "method": method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "identity": actor.kind if actor else "anonymous",
                "client": request.remote_addr,
            },
        )
