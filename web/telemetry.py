"""Pipeline step 12: metrics and the access log line, from the final response."""

from __future__ import annotations

import logging
import time

from flask import Response, request

from web.context import RequestState, container

access = logging.getLogger("inkwell.access")

# Every label comes from a bounded set: a client choosing the method (or the path) must not be
# able to mint new time series. Unknown methods are OTHER; unmatched paths are "<unmatched>".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def record(state: RequestState, response: Response) -> None:
    elapsed = time.perf_counter() - state.started
    method = state.method if state.method in METHODS else "OTHER"
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not five
    route = req.url_rule.rule if req.url_rule is not None else "<unmatched>"
    status = response.status_code
    m = container().metrics
    m.observe_request(method, route, status, elapsed)
    if state.cache is not None and state.cache.result is not None:
        m.observe_cache(state.cache.result)
    if status == 429:
        m.refusals.labels(route).inc()
    if access.isEnabledFor(logging.INFO):
        actor = state.actor
        path = req.path
        access.info(
            "%s %s %s %.1fms",
            method,
            path,
            status,
            elapsed * 1000,
            extra={
                "request_id": state.request_id,  # the log filter need not look it up
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "identity": actor.kind if actor else "anonymous",
                "client": req.remote_addr,
            },
        )
