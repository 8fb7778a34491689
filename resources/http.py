"""Flask-RESTful glue: an Api whose errors go through the one mapper, ids, conditional GETs."""

from __future__ import annotations

import flask_restful
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, ValidationError

from resources.base import etag_of
from resources.context import current_actor
from resources.problems import to_problem
from schemas.common import MAX_ID


class Api(flask_restful.Api):
    """Flask-RESTful's handle_error bypasses @app.errorhandler for its own routes; route it back."""

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


def conditional_get(response: Response) -> Response:
    """A strong ETag on every 200 GET (and PUT/PATCH, to chain If-Match), 304 on If-None-Match."""
    if request.method not in ("GET", "HEAD", "PUT", "PATCH") or response.status_code != 200:
        return response
    if response.mimetype == "application/json" and not response.direct_passthrough:
        tag = response.headers.get("ETag") or etag_of(response.get_data())
        response.headers["ETag"] = tag
        if "Cache-Control" not in response.headers:
            # Authenticated responses are for that caller alone; shared caches must not keep them.
            response.headers["Cache-Control"] = "private, no-cache" if current_actor() else "no-cache"
        wanted = request.headers.get("If-None-Match") if request.method in ("GET", "HEAD") else None
        # If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
        if wanted and (
            wanted.strip() == "*" or tag in {t.strip().removeprefix("W/") for t in wanted.split(",")}
        ):
            # The same response made a 304, so rate-limit, CORS and security headers stay on it.
            response.status_code = 304
            response.set_data(b"")
            for name in ("Content-Type", "Content-Length", "Link"):
                response.headers.pop(name, None)
    return response


def install(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    app.register_error_handler(HTTPException, to_problem)
    app.register_error_handler(Exception, to_problem)
    app.after_request(conditional_get)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response


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
