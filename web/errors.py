"""The one error mapper: every exception becomes an RFC 9457 problem+json response."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from flask import Response, g, request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from schemas.common import message
from services import errors as domain

log = logging.getLogger("inkwell.errors")

DOMAIN_STATUS: dict[type[domain.DomainError], int] = {
    domain.BadRequest: 400,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.PreconditionFailed: 412,
    domain.Invalid: 422,
}


class RequestInvalid(Exception):
    """Input that failed its schema: `errors` already carry `loc` prefixed with body/query/path."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("request validation failed")
        self.errors = errors


class MalformedJson(Exception):
    pass


class RateLimited(Exception):
    """A limit is exhausted; web/limits.py adds Retry-After and the rate-limit headers."""


def validation_errors(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    """pydantic errors without the input (it may be a password) or context (may not serialise)."""
    return [
        {"loc": [where, *err["loc"]], "msg": message(err), "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> Response:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:inkwell:problem:{phrase.lower().replace(' ', '-').replace(chr(39), '')}",
        "title": title or phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        "request_id": g.inkwell.request_id if "inkwell" in g else "",
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(orjson.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="inkwell"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@dataclass(frozen=True, slots=True)
class Failure:
    """What an exception means for the client, whatever the body's format (problem+json or a page)."""

    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)
    errors: list[dict[str, Any]] | None = None


def classify(exc: BaseException) -> Failure:
    """The one mapping of exceptions to statuses: the API renders it as problem+json, the console
    as an HTML page."""
    if isinstance(exc, domain.DomainError):
        errors = None
        if isinstance(exc, domain.Invalid):
            errors = [{"loc": list(exc.loc), "msg": exc.detail, "type": "value_error"}]
        return Failure(DOMAIN_STATUS.get(type(exc), 400), exc.detail, errors=errors)
    if isinstance(exc, RequestInvalid):
        return Failure(422, "the request does not match the schema", errors=exc.errors)
    if isinstance(exc, MalformedJson):
        return Failure(400, str(exc) or "malformed JSON body")
    if isinstance(exc, RateLimited):
        return Failure(429, str(exc))
    if isinstance(exc, HTTPException):
        return _http_failure(exc)
    if isinstance(exc, IntegrityError):
        log.info("integrity error mapped to 409: %s", exc.orig)
        return Failure(409, "the request conflicts with existing data")
    if database_unavailable(exc) or _render_hit_dead_database(exc):
        log.error("database unavailable: %s", exc.__class__.__name__)
        return Failure(503, "the database is unavailable; retry shortly", {"Retry-After": "5"})
    log.exception("unhandled error", exc_info=exc)
    return Failure(500, "an unexpected error occurred; quote the request_id when reporting it")


# SQLSTATE classes and codes a stopping, restarting, overloaded or failing-over server answers:
# connection exception, operator intervention (shutdown, "starting up"), insufficient resources
# (too many connections), and a read-only transaction (a standby not yet promoted).
UNAVAILABLE_SQLSTATES = ("08", "57P", "53", "25006")
# The exception classes database_unavailable accepts outright, by name (see _render_hit_dead_database).
UNAVAILABLE_ERROR_NAMES = ("OperationalError", "InterfaceError", "TimeoutError", "DisconnectionError")


def database_unavailable(exc: BaseException) -> bool:
    """Whether this database error means "not now" (503) rather than a bug (500)."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return exc.connection_invalidated or sqlstate.startswith(UNAVAILABLE_SQLSTATES)


def _render_hit_dead_database(exc: BaseException) -> bool:
    """A response model read a lazy-loaded attribute and the load failed on a dead database.

    pydantic wraps whatever the attribute raised into a ValidationError ("get_attribute_error")
    and keeps only its text, so the class name is all there is to go on.
    """
    if not isinstance(exc, ValidationError):
        return False
    errors = exc.errors(include_url=False, include_input=False)
    return bool(errors) and all(
        e["type"] == "get_attribute_error"
        and str(e.get("ctx", {}).get("error", "")).startswith(UNAVAILABLE_ERROR_NAMES)
        for e in errors
    )


def to_problem(exc: BaseException) -> Response:
    failure = classify(exc)
    return problem(failure.status, failure.detail, headers=failure.headers, errors=failure.errors)


def _http_failure(exc: HTTPException) -> Failure:
    status = exc.code or 500
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    detail = {
        404: "no such resource",
        405: f"{request.method} is not allowed here",
        413: "the request body is too large",
    }.get(status, exc.description or HTTPStatus(status).phrase)
    for name in ("Retry-After",):
        if exc.response is not None and name in exc.response.headers:
            headers[name] = exc.response.headers[name]
    return Failure(status, detail, headers)
