"""The request pipeline: every request passes these steps, in this order, and nothing else.

     1  request id        the client's sane X-Request-ID, else a new one
     2  authenticate      bearer token or API key -> Actor (a failure is held until after 3)
     3  rate limit        every request counts: failed authentication, 404 and 405 included
     4  authorize         the operation's declared access, scope and role
     5  response cache    a GET answered from the cache stops here (X-Cache: HIT)
     6  idempotency       a POST's stored first response is replayed here
     7  validate          the declared query and body models; 4xx before any service runs
     8  resource method   one service call
     9  render            the method's pydantic model -> JSON (web/contract.py helpers)
    10  conditional GET   ETag, 304 on If-None-Match
    11  headers           request id, rate limits, X-Cache, Cache-Control, security headers
    12  telemetry         metrics and the access log

Any exception becomes a problem+json response in web/errors.py, and steps 10-12 still run on it.
Flask keeps its contract around the steps: `request_started` is sent first, and the app's and
blueprints' before_request hooks (tracing, Sentry) run right after step 1; one that returns a
response answers the request, and steps 10-12 still run. after_request and teardown hooks run
as Flask runs them. Steps share one RequestState (web/context.py), never loose `g` keys.

Server-rendered pages (the console, /console) take one branch: request id, their cookie session
as step 2, the same rate limiter (the console's login obeys the API's login limits), their CSRF
check, the view; errors render as HTML pages. The API-only steps - credentials from headers,
declared access, response cache, idempotency, validation against a declaration - do not apply.
Steps 10-12 run for both.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol, cast

import flask_restful
from flask import Flask, Response, g, request, request_started

from adapters.werkzeug import SentResponse
from services import auth
from web import access, http, telemetry
from web.cache import ResponseCache
from web.context import RequestState, container
from web.contract import Operation, check_namespaces, parse_body, parse_query
from web.credentials import CredentialCache
from web.errors import RequestInvalid, to_problem
from web.idempotency import Idempotency
from web.limits import RateLimits, rate_headers
from web.roundtrip import RoundTrip
from web.versions import Namespace, Versions

log = logging.getLogger("inkwell.pipeline")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class Pages(Protocol):
    """Server-rendered pages with their own session and error pages (console/pages.py)."""

    def owns(self) -> bool:
        """Whether this request is for one of the pages (matched or not: a 404 there is a page)."""

    def authenticate(self, state: RequestState) -> None:
        """Step 2 for pages: the cookie session's actor, if any."""

    def named_limits(self) -> tuple[str, ...]:
        """Named limits (step 3) of this request on top of the caller's budget: ("login",)."""

    def protect(self) -> None:
        """Refuse an unsafe request without a valid CSRF token."""

    def secure(self, response: Response) -> Response:
        """The pages' own headers (CSP, no-store)."""

    def error_page(self, exc: Exception) -> Response:
        """An exception as an HTML page, with the status web/errors.py classifies it as."""


class Pipeline:
    # Shared by the server's threads: its steps are; the request's own state is RequestState.
    def __init__(
        self,
        limits: RateLimits,
        cache: ResponseCache,
        versions: Versions,
        round_trip: RoundTrip | None,
        idempotency: Idempotency,
        credentials: CredentialCache,
        pages: Pages | None = None,
    ) -> None:
        self.limits = limits
        self.cache = cache
        self.versions = versions
        self.round_trip = round_trip
        self.idempotency = idempotency
        self.credentials = credentials
        self.pages = pages
        self.operations: dict[tuple[str, str], Operation] = {}

    def handle(self, app: Flask) -> Response:
        state = g.inkwell = RequestState(request_id=_request_id(), method=request.method)  # 1
        state.operation = self.operations.get((request.endpoint or "", state.method))
        pages = self.pages if self.pages is not None and self.pages.owns() else None
        try:
            response = self._run(app, state) if pages is None else self._run_page(app, state, pages)
        except Exception as exc:
            response = to_problem(exc) if pages is None else pages.error_page(exc)
        self._finish(state, response)
        response = http.conditional_get(state, response)  # 10
        http.common_headers(state, response, rate_headers(state.rate, response.status_code))  # 11
        telemetry.record(state, response)  # 12
        return response

    def _run(self, app: Flask, state: RequestState) -> Response:
        answered = _flask_hooks(app)
        if answered is not None:
            return answered
        access.authenticate(state, self.credentials, self.versions)  # 2
        _read_query(state)  # step 7's query half, early: the cache keys on the parsed query
        self.cache.plan(state)  # 5's keys, named for the one round trip
        self.limits.check(state)  # 3; the round trip carries the keys 2 and 5 named
        reads = state.reads
        if reads.values is None and reads.keys and self.round_trip is not None:
            self.round_trip.fetch(reads)  # what no counter carried (limits off, a cluster)
        remembered = state.actor
        access.confirm(state, self.credentials, self.versions)  # 2, finished: nothing revoked since
        if state.actor is not remembered:
            self.cache.plan(state)  # the keys were named for who the caller was (a demoted admin)
        if state.auth_failure is not None:
            raise state.auth_failure
        access.authorize(state)  # 4
        stored = self.cache.lookup(state) or self.idempotency.begin(state)  # 5, 6
        if stored is not None:
            return stored
        operation = state.operation
        if operation is not None and request.view_args is not None:  # 7
            if state.query_failure is not None:
                raise state.query_failure
            if state.query is not None:
                request.view_args["query"] = state.query
            if operation.body is not None:
                request.view_args["body"] = parse_body(operation.body)
        # 8, 9; routing errors (404, 405) raise here. Every Resource method returns a Response.
        return cast(Response, app.dispatch_request())

    def _run_page(self, app: Flask, state: RequestState, pages: Pages) -> Response:
        answered = _flask_hooks(app)
        if answered is None:
            pages.authenticate(state)  # 2
            self.limits.check(state, named=pages.named_limits())  # 3
            pages.protect()
            answered = app.make_response(app.dispatch_request())  # 8, 9
        return pages.secure(answered)

    def _finish(self, state: RequestState, response: Response) -> None:
        """After the method: store or invalidate the cache, settle idempotency, end the transaction.

        Never raises: the response is decided, and a failing dependency here must not turn it
        into a 500 (each step logs and degrades on its own; this is the last guard).
        """
        try:
            self.cache.finish(state, response)
        except Exception as exc:
            log.error("response cache step after the method failed: %s", exc.__class__.__name__)
        unit = state.uow
        _close(state)
        if unit is not None and unit.revoked_credentials:
            # Committed (or rolled back: a needless bump is harmless): every process re-checks
            # its remembered callers, whatever the response (a reused refresh token is a 401).
            try:
                self.versions.bump((Namespace.AUTH,))
            except Exception as exc:
                log.error("revoking remembered credentials failed: %s", exc.__class__.__name__)
        try:
            self.idempotency.finish(state, response)
        except Exception as exc:
            log.error("idempotency step after the method failed: %s", exc.__class__.__name__)


def _flask_hooks(app: Flask) -> Response | None:
    """Flask's `request_started` signal and before_request hooks, right after step 1 (inside the
    error mapping: a hook that raises gets a problem body); a hook's return value answers."""
    if request_started.receivers:  # blinker's own test, without a send() to nobody
        request_started.send(app, _async_wrapper=app.ensure_sync)
    early = app.preprocess_request()
    return None if early is None else app.make_response(early)


def _read_query(state: RequestState) -> None:
    """Parse the declared query model; a failure is kept, raised at step 7 (after the limiter)."""
    operation = state.operation
    if operation is None or operation.query is None:
        return
    try:
        state.query = parse_query(operation.query)
    except RequestInvalid as exc:
        state.query_failure = exc


def _request_id() -> str:
    given = request.environ.get("HTTP_X_REQUEST_ID", "")
    # 128 random bits as hex: what uuid4().hex carries, without building a UUID per request.
    return given if REQUEST_ID.match(given) else os.urandom(16).hex()


def _close(state: RequestState) -> None:
    """End the request's transaction, then record an API key's use in a short one of its own.

    Never raises (UnitOfWork.close never does): the response is decided. The key's use is
    recorded only after the request's transaction is closed: on SQLite a write request holds
    the one write lock, and a read request must not take it.
    """
    unit, state.uow = state.uow, None
    if unit is not None:
        unit.close()
    if state.touch_key_id is None:
        return
    touch = container().unit_of_work(write=True)
    try:
        auth.touch_key(uow=touch, key_id=state.touch_key_id)
    except Exception as exc:  # last_used_at is bookkeeping; it never fails a served request
        log.warning("could not record API key use: %s", exc.__class__.__name__)
    finally:
        touch.close()


class InkwellFlask(Flask):
    """Flask whose dispatch is the pipeline; after_request hooks (CORS) still see the response."""

    pipeline: Pipeline
    response_class = SentResponse

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}

    def full_dispatch_request(self) -> Response:
        self._got_first_request = True
        return self.finalize_request(self.pipeline.handle(self))

    def make_default_options_response(self) -> Response:
        """Flask's OPTIONS reply (Allow), without the Content-Type of a body it does not have."""
        response = super().make_default_options_response()
        response.headers.pop("Content-Type", None)
        return response

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's answer, kept per function: Flask asks `inspect` again for every hook and view
        on every request, and they are the same functions each time. (Shared by the server's
        threads: one dict operation each; two may compute the same answer once each.)"""
        known = self._sync.get(func)
        if known is None:
            known = self._sync[func] = super().ensure_sync(func)
        return known


def register(
    app: InkwellFlask, api: flask_restful.Api, routes: list[tuple[str, type[flask_restful.Resource], str]]
) -> None:
    """Add the route table's Resources and index each method's declaration for the pipeline."""
    for url, resource, name in routes:
        api.add_resource(resource, url, endpoint=name)
        for method in resource.methods or ():
            declared: Operation | None = getattr(getattr(resource, method.lower(), None), "operation", None)
            if declared is None:
                raise LookupError(f"{resource.__name__}.{method.lower()} has no @operation declaration")
            check_namespaces(declared, f"{resource.__name__}.{method.lower()}")
            tag = resource.__module__.rsplit(".", 1)[-1].replace("_", "-")
            bound = replace(declared, endpoint=name, method=method, tag=tag)
            app.pipeline.operations[(name, method)] = bound
            if method == "GET":
                app.pipeline.operations[(name, "HEAD")] = bound


def operations(app: Flask) -> list[Operation]:
    """Every declared operation once (HEAD shares GET's), in route-table order."""
    pipeline: Any = app.pipeline  # type: ignore[attr-defined]
    return [op for (_name, method), op in pipeline.operations.items() if method != "HEAD"]
