"""HTTP details around the pipeline: the Api's error route, id converter, conditional GET, CORS."""

from __future__ import annotations

import flask_restful
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, ValidationError

from schemas.common import MAX_ID
from web.context import RequestState
from web.contract import etag_of
from web.errors import to_problem


class Api(flask_restful.Api):
    """The pipeline maps every error of a request; this catches what fails after it (an
    after_request hook such as CORS), which Flask-RESTful would answer in its own shape."""

    def handle_error(self, e: Exception) -> Response:
        return to_problem(e)


class IdConverter(BaseConverter):
    """Positive ids that fit the INTEGER id columns; anything else is an unknown path (404).

    Never a database error: PostgreSQL refuses to bind a larger number to an INTEGER column.
    """

    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: int) -> str:
        return str(value)


def conditional_get(state: RequestState, response: Response) -> Response:
    """A strong ETag on every 200 GET (and PUT/PATCH, to chain If-Match), 304 on If-None-Match."""
    operation = state.operation
    if operation is None or not operation.etag or response.status_code != 200 or response.direct_passthrough:
        return response
    tag = response.headers.get("ETag")
    if tag is None:  # a cache hit carries its stored one
        tag = response.headers["ETag"] = etag_of(response.get_data())
    wanted = request.environ.get("HTTP_IF_NONE_MATCH") if state.method in ("GET", "HEAD") else None
    # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    if wanted and (wanted.strip() == "*" or tag in {t.strip().removeprefix("W/") for t in wanted.split(",")}):
        # The same response made a 304, so rate-limit, cache and security headers stay on it.
        # Werkzeug sends a 304 without its body or entity headers (Content-Type, Content-Length):
        # doing it here as well would be the same work twice.
        response.status_code = 304
        response.headers.remove("Link")
    return response


def common_headers(state: RequestState, response: Response, rate: list[tuple[str, str]]) -> None:
    """Step 11's headers, with the rate-limit ones, added in one go (each werkzeug `set` scans the
    whole header list; these are never on a response yet, except where checked)."""
    headers = response.headers
    # One pass over the names: werkzeug's `name in headers` raises and catches an exception of
    # its own for each name that is absent, the usual case here.
    present = {name.lower() for name, _ in headers}
    added = [("X-Request-ID", state.request_id), *rate]
    if "x-content-type-options" not in present:
        added.append(("X-Content-Type-Options", "nosniff"))
    if "referrer-policy" not in present:
        added.append(("Referrer-Policy", "no-referrer"))
    if state.cache is not None and state.cache.result is not None:
        added.append(("X-Cache", state.cache.result))
    if (
        response.status_code in (200, 304)
        and state.method in ("GET", "HEAD")
        and "cache-control" not in present
    ):
        # Authenticated responses are for that caller alone; shared caches must not keep them.
        added.append(("Cache-Control", "private, no-cache" if state.actor else "no-cache"))
    headers.extend(added)
    if response.status_code == 429:
        headers["Cache-Control"] = "no-store"  # a refusal is never stored (a console page sets it too)


def install(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    # The pipeline answers every request's errors; these catch what fails around it.
    app.register_error_handler(HTTPException, to_problem)
    app.register_error_handler(Exception, to_problem)


# Headers a browser client may read from a cross-origin response (API.md section 4).
CORS_EXPOSED = [
    "ETag",
    "Link",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
    "Idempotent-Replayed",
    "X-Cache",
]


def install_cors(app: Flask, origins: list[str]) -> None:
    """Only the configured origins get CORS headers; with none configured, nothing is added."""
    if not origins:
        return
    from flask_cors import CORS

    CORS(
        app,
        origins=origins,
        expose_headers=CORS_EXPOSED,
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-API-Key",
            "X-Request-ID",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
        ],
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        max_age=600,
        vary_header=True,
    )
