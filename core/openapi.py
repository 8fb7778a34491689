"""OpenAPI 3.1 from the app itself: every url_map rule, each method's `@endpoint` contract.

The same pydantic models that validate a request describe it here (one source of truth);
`models_json_schema` gives every model one clean component name.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from resources.ops import UNLIMITED_ENDPOINTS
from schemas.common import Problem

REF = "#/components/schemas/{model}"
PARAM = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
CONVERTER_SCHEMA = {
    "id": {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999},
    "int": {"type": "integer", "minimum": 0},
    "path": {"type": "string", "minLength": 1},
    "default": {"type": "string", "minLength": 1},
}
HEADERS = {
    "X-Request-ID": {
        "description": "The request's id (the client's own if sane); also in logs and problem bodies.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "Strong validator; send it back in If-None-Match / If-Match.",
        "schema": {"type": "string"},
    },
    "Location": {
        "description": "URL of the created resource.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Link": {"description": "RFC 8288 first/prev/next/last page links.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first response to the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    **{
        name: {"description": description, "schema": {"type": "string"}}
        for name, description in {
            "X-RateLimit-Limit": "Requests allowed in the current window.",
            "X-RateLimit-Remaining": "Requests left in the current window.",
            "X-RateLimit-Reset": "Unix time at which the window resets.",
            "RateLimit-Policy": 'IETF draft syntax, e.g. `"default";q=600;w=60`.',
            "RateLimit": 'IETF draft syntax, e.g. `"default";r=599;t=42`.',
        }.items()
    },
}
# Request headers of the HTTP semantics every operation of a method shares (API.md section 4).
CONDITIONAL_HEADERS = {
    "GET": [("If-None-Match", "An ETag from an earlier response: 304 with no body if it still matches.")],
    "PUT": [("If-Match", "The ETag the change is based on: 412 (and nothing written) if stale.")],
    "PATCH": [("If-Match", "The ETag the change is based on: 412 (and nothing written) if stale.")],
    "DELETE": [("If-Match", "The ETag the deletion is based on: 412 (and nothing deleted) if stale.")],
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same caller + key + body within 24 h replays the first response (Idempotent-Replayed: "
    "true); another body is 422; while the first runs, 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
PHRASES = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad request: malformed JSON, or both credentials at once",
    401: "Missing, bad or expired credential",
    403: "Not allowed (role or API-key scope)",
    404: "Not found (or not visible to the caller)",
    409: "Conflict with existing data",
    412: "If-Match no longer matches",
    413: "Body larger than server.max_body_bytes",
    415: "Body is not application/json",
    422: "Input does not match the schema",
    429: "Rate limit exceeded",
    500: "Unexpected error (no details leak)",
    503: "A dependency (the database) is unavailable",
}
# Any request may carry a credential: a bad one is 401, both at once 400, a key without `read` 403.
ALWAYS = (400, 401, 403, 500, 503)


def document(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document, built once per app."""
    extras = app.extensions["inkwell"].extras
    if "openapi" not in extras:
        extras["openapi"] = build(app)
    return extras["openapi"]


def build(app: Flask) -> dict[str, Any]:
    operations = list(_operations(app))
    models: set[tuple[type[BaseModel], str]] = {(Problem, "serialization")}
    for _rule, _method, contract in operations:
        models |= {(m, "validation") for m in (contract.body, contract.query) if m}
        models |= {(m, "serialization") for m in (contract.response,) if m}
        models |= {(m, "serialization") for _status, m in contract.error_models}
    ordered = sorted(models, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, top = models_json_schema(ordered, ref_template=REF)
    schemas = top.get("$defs", {})
    _configured_values(schemas, app.extensions["inkwell"].settings)
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, contract in operations:
        path, params = _path(rule)
        op = _operation(rule.endpoint, method, contract, params, refs, schemas)
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Inkwell API",
            "version": "1.0.0",
            "description": "Publishing (users, posts, comments) and a product catalog. "
            "Errors are RFC 9457 problem details (application/problem+json).",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _operations(app: Flask) -> Any:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            contract = getattr(getattr(view_class, method.lower(), None), "contract", None)
            if contract is None:
                raise LookupError(f"{rule.rule} {method}: no @endpoint contract to document")
            yield rule, method, contract


def _path(rule: Any) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in PARAM.finditer(rule.rule):
        schema = CONVERTER_SCHEMA.get(match["conv"] or "default", CONVERTER_SCHEMA["default"])
        params.append({"name": match["name"], "in": "path", "required": True, "schema": dict(schema)})
    return PARAM.sub(lambda m: "{" + m["name"] + "}", rule.rule), params


def _operation(
    name: str, method: str, contract: Any, params: list[dict[str, Any]], refs: Any, schemas: dict[str, Any]
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": f"{name}_{method.lower()}", "tags": [_tag(name)]}
    if contract.query is not None:
        params = params + _query_params(schemas[_name(refs[(contract.query, "validation")])])
    params = params + [
        {"name": header, "in": "header", "required": False, "description": text, "schema": {"type": "string"}}
        for header, text in CONDITIONAL_HEADERS.get(method, [])
    ]
    if method == "POST":
        params = [*params, IDEMPOTENCY_KEY]
    if params:
        op["parameters"] = params
    if contract.body is not None:
        op["requestBody"] = {
            # An empty body reads as {}: only a model with required fields needs one.
            "required": bool(schemas[_name(refs[(contract.body, "validation")])].get("required")),
            "content": {"application/json": {"schema": refs[(contract.body, "validation")]}},
        }
    op["responses"] = _responses(name, method, contract, refs)
    op["security"] = {
        "none": [],
        "optional": [{}, {"bearerAuth": []}, {"apiKey": []}],
        "required": [{"bearerAuth": []}, {"apiKey": []}],
    }[contract.auth]
    if contract.scope:
        op["description"] = f"API keys need the `{contract.scope}` scope."
    return op


def _responses(name: str, method: str, contract: Any, refs: Any) -> dict[str, Any]:
    success: dict[str, Any] = {"description": PHRASES.get(contract.status, "Success"), "headers": {}}
    headers = success["headers"]
    headers["X-Request-ID"] = HEADERS["X-Request-ID"]
    if contract.status != 204:
        schema = refs[(contract.response, "serialization")] if contract.response else {}
        success["content"] = {contract.media: {"schema": schema}}
    if contract.status == 201:
        headers["Location"] = HEADERS["Location"]
    if method == "POST":
        headers["Idempotent-Replayed"] = HEADERS["Idempotent-Replayed"]
    if name not in UNLIMITED_ENDPOINTS:
        for header in (
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "RateLimit-Policy",
            "RateLimit",
        ):
            headers[header] = HEADERS[header]
    responses: dict[str, Any] = {str(contract.status): success}
    if method == "GET" and contract.status == 200 and contract.media == "application/json":
        headers["ETag"] = HEADERS["ETag"]
        if contract.response is not None and "items" in contract.response.model_fields:
            headers["Link"] = HEADERS["Link"]
        responses["304"] = {
            "description": "If-None-Match matched: no body",
            "headers": {"ETag": HEADERS["ETag"]},
        }
    errors = set(contract.errors) | set(ALWAYS)
    if contract.body is not None:
        errors |= {400, 413, 415, 422}
    if method == "POST":
        errors |= {409, 422}  # Idempotency-Key: in flight, or reused with another body
    if method in ("PUT", "PATCH", "DELETE"):
        errors.add(412)
    if contract.query is not None:
        errors.add(422)
    if name not in UNLIMITED_ENDPOINTS:
        errors.add(429)
    own = dict(contract.error_models)
    problem = {"application/problem+json": {"schema": refs[(Problem, "serialization")]}}
    for status in sorted(errors):
        content = dict(problem)
        if status in own:
            content["application/json"] = {"schema": refs[(own[status], "serialization")]}
        response: dict[str, Any] = {"description": PHRASES.get(status, "Error"), "content": content}
        response["headers"] = {"X-Request-ID": HEADERS["X-Request-ID"]}
        if status in (429, 503):
            response["headers"]["Retry-After"] = HEADERS["Retry-After"]
        if status == 401:
            response["headers"]["WWW-Authenticate"] = {"schema": {"type": "string"}}
        responses[str(status)] = response
    return responses


def _configured_values(schemas: dict[str, Any], settings: Any) -> None:
    """Values the models leave to configuration, written into this app's document."""
    tier = schemas.get("ApiKeyUpdate", {}).get("properties", {}).get("tier")
    if tier is not None:
        tier["enum"] = sorted(settings.rate_limit.tiers)


def _query_params(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    params = []
    for field, prop in schema.get("properties", {}).items():
        prop = _drop_null(dict(prop))
        prop.pop("title", None)
        params.append({"name": field, "in": "query", "required": field in required, "schema": prop})
    return params


def _drop_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot say null: `X | None = None` is just an optional X."""
    if "anyOf" in prop:
        branches = [b for b in prop["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            rest = {k: v for k, v in prop.items() if k != "anyOf"}
            prop = {**branches[0], **rest}
        else:
            prop["anyOf"] = branches
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


def _name(ref: dict[str, Any]) -> str:
    return ref["$ref"].rsplit("/", 1)[1]


def _tag(endpoint: str) -> str:
    if endpoint in UNLIMITED_ENDPOINTS:
        return "operations"
    for prefix, tag in (
        ("post", "posts"),
        ("comment", "comments"),
        ("item", "items"),
        ("api_key", "api-keys"),
    ):
        if endpoint.startswith(prefix):
            return tag
    return "users" if endpoint.startswith("user") else "auth"
