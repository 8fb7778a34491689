"""OpenAPI 3.1 from the operations the pipeline enforces: the document is the declaration.

For each operation every status, header and media type the pipeline can send is derived from
the same facts the pipeline acts on (access, scope, body, query, limits, cache, idempotency,
ETag), so the document cannot promise what the server does not do. The pydantic models that
validate requests and render responses give the schemas; `models_json_schema` names each once.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from schemas.common import MAX_ID, Problem
from web.container import Container
from web.contract import Access, Operation
from web.pipeline import operations

REF = "#/components/schemas/{model}"
PARAM = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
CONVERTER_SCHEMA = {
    "id": {"type": "integer", "format": "int32", "minimum": 1, "maximum": MAX_ID},
    "path": {"type": "string", "minLength": 1, "maxLength": 200},
}
TAGS = [
    {"name": "auth", "description": "Accounts and sessions: register, log in, refresh, log out."},
    {"name": "users", "description": "The caller's account, public profiles, admin account management."},
    {"name": "posts", "description": "Posts: published ones for everyone, drafts for their authors."},
    {"name": "comments", "description": "Comments on visible posts."},
    {"name": "items", "description": "The product catalog."},
    {"name": "api-keys", "description": "API keys: scoped, tiered, shown once, revoked at once."},
    {"name": "ops", "description": "Liveness, readiness, metrics and this document. Never rate limited."},
]
STRING = {"type": "string"}
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request id: the client's own if sane, else a new one (in logs and problems too).",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
    },
    "X-Content-Type-Options": {
        "description": "Always `nosniff`.",
        "schema": {"type": "string", "enum": ["nosniff"]},
    },
    "Referrer-Policy": {
        "description": "Always `no-referrer`.",
        "schema": {"type": "string", "enum": ["no-referrer"]},
    },
    "Cache-Control": {
        "description": "`no-cache` (public GET), `private, no-cache` (authenticated GET), `no-store` "
        "(secrets, 429, ops), or `public, max-age=...` (docs assets).",
        "schema": STRING,
    },
    "Content-Security-Policy": {
        "description": "On the docs page: this origin only (its one inline script by hash), never framed.",
        "schema": STRING,
    },
    "X-Frame-Options": {
        "description": "On the docs page: always `DENY`.",
        "schema": {"type": "string", "enum": ["DENY"]},
    },
    "ETag": {"description": "Strong validator; send it back in If-None-Match / If-Match.", "schema": STRING},
    "Location": {"description": "URL of the created resource.", "required": True, "schema": STRING},
    "Link": {
        "description": "RFC 8288 links: first and last, prev and next where they exist; in cursor mode"
        " (`?cursor=`), first and next (the next cursor's URL) only.",
        "schema": STRING,
    },
    "X-Cache": {
        "description": "Whether the response cache answered: HIT, MISS, or BYPASS (Redis unavailable).",
        "schema": {"type": "string", "enum": ["HIT", "MISS", "BYPASS"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored first response to the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {"description": 'Always `Bearer realm="inkwell"`.', "schema": STRING},
    "X-RateLimit-Limit": {"description": "Requests allowed in the window.", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {
        "description": "Unix time at which the window resets.",
        "schema": {"type": "integer"},
    },
    "RateLimit-Policy": {"description": 'IETF draft syntax, e.g. `"default";q=600;w=60`.', "schema": STRING},
    "RateLimit": {"description": 'IETF draft syntax, e.g. `"default";r=599;t=42`.', "schema": STRING},
}
RATE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified: If-None-Match matched; no body",
    400: "Bad request: malformed JSON, or both credentials at once",
    401: "Missing, bad, expired or revoked credential",
    403: "Not allowed: role, API-key scope, or a bearer-only operation called with a key",
    404: "Not found (or not visible to the caller)",
    409: "Conflict with existing data, or this Idempotency-Key is still running",
    412: "If-Match no longer matches; nothing was written",
    413: "Body larger than server.max_body_bytes",
    415: "Body is not application/json",
    422: "Input does not match the schema, or an Idempotency-Key reused with another body",
    429: "Rate limit exceeded",
    500: "Unexpected error (no details leak)",
    503: "A dependency is unavailable",
}


def document(app: Flask) -> dict[str, Any]:
    """The app's OpenAPI document, built once per app."""
    held: Container = app.extensions["inkwell"]
    if held.openapi is None:
        held.openapi = build(app)
    return held.openapi


def build(app: Flask) -> dict[str, Any]:
    ops = operations(app)
    models: set[tuple[type[BaseModel], JsonSchemaMode]] = {(Problem, "serialization")}
    for op in ops:
        models |= {(m, "validation") for m in (op.body, op.query) if m}
        models |= {(m, "serialization") for m in _response_models(op)}
        models |= {(m, "serialization") for _status, m in op.error_models}
    ordered = sorted(models, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, top = models_json_schema(ordered, ref_template=REF)
    schemas = top.get("$defs", {})
    _configured_values(schemas, app.extensions["inkwell"].settings)
    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        path, params = _path(rules[op.endpoint])
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, params, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Inkwell API",
            "version": "1.0.0",
            "summary": "Publishing (users, posts, comments) and a product catalog.",
            "description": "JSON over HTTP. Errors are RFC 9457 problem details (application/problem+json). "
            "Every response carries X-Request-ID; limited operations carry the rate-limit headers. "
            "A path that is not listed here answers 404, and a method a listed path does not have "
            "answers 405 with an `Allow` header; both as problem details, both rate limited. "
            "The web console under /console is HTML for people, not part of this API.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "headers": HEADERS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from POST /api/v1/auth/login.",
                },
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-Key",
                    "description": "An API key; the requirement lists the scope the key needs.",
                },
            },
        },
    }


def _response_models(op: Operation) -> tuple[type[BaseModel], ...]:
    if op.response is None:
        return ()
    return op.response if isinstance(op.response, tuple) else (op.response,)


def _path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in PARAM.finditer(rule):
        schema = CONVERTER_SCHEMA[match["conv"] or "path"]
        params.append({"name": match["name"], "in": "path", "required": True, "schema": dict(schema)})
    return PARAM.sub(lambda m: "{" + m["name"] + "}", rule), params


def _operation(
    op: Operation, params: list[dict[str, Any]], refs: Any, schemas: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    description = op.description
    if op.admin:
        description = f"{description} Needs the admin role.".strip()
    if description:
        out["description"] = description
    if op.query is not None:
        params = params + _query_params(schemas[_name(refs[(op.query, "validation")])])
    params = params + _header_params(op)
    if params:
        out["parameters"] = params
    if op.body is not None:
        out["requestBody"] = {
            # An empty body reads as {}: only a model with required fields needs one.
            "required": bool(schemas[_name(refs[(op.body, "validation")])].get("required")),
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    out["responses"] = _responses(op, refs)
    out["security"] = _security(op)
    return out


def _header_params(op: Operation) -> list[dict[str, Any]]:
    def header(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}

    params = [
        header(
            "X-Request-ID",
            "Your id for this request: echoed back if it is 1-128 of [A-Za-z0-9._-], else replaced.",
            STRING,
        )
    ]
    if op.method == "GET" and op.etag:
        params.append(
            header("If-None-Match", "An ETag from an earlier response: 304 if it still matches.", STRING)
        )
    if op.method in ("PUT", "PATCH", "DELETE"):
        params.append(
            header("If-Match", "The ETag the change is based on: 412, nothing written, if stale.", STRING)
        )
    if op.idempotent:
        params.append(
            header(
                "Idempotency-Key",
                "Same caller + key + body within 24 h replays the first response (Idempotent-Replayed: "
                "true); another body is 422; while the first runs, 409.",
                {"type": "string", "minLength": 1, "maxLength": 255},
            )
        )
    return params


def _statuses(op: Operation) -> set[int]:
    """Every status the pipeline or the service can answer this operation with."""
    statuses = {op.status, *op.errors, 500}
    if op.method == "GET" and op.etag:
        statuses.add(304)
    if op.access is not Access.NONE:
        statuses |= {400, 401, 503}  # both credentials; a bad one; the database down
        if op.access is not Access.ANYONE or op.scope or op.admin or op.method == "GET":
            statuses.add(403)
    if op.body is not None:
        statuses |= {400, 413, 415, 422}
    if op.query is not None:
        statuses.add(422)
    if op.idempotent:
        statuses |= {409, 422}
    if op.method in ("PUT", "PATCH", "DELETE"):
        statuses.add(412)
    if op.limited:
        statuses.add(429)
    return statuses


def _headers(op: Operation, status: int) -> dict[str, Any]:
    names = ["X-Request-ID", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"]
    if op.limited:
        names += RATE_HEADERS
    if op.cache is not None:
        names.append("X-Cache")
    if status in (200, 304) and op.etag:
        names.append("ETag")
    if status == 200 and op.method == "GET" and any("items" in m.model_fields for m in _response_models(op)):
        names.append("Link")
    if status == 201:
        names.append("Location")
    if status == 200 and op.media == "text/html":
        names += ["Content-Security-Policy", "X-Frame-Options"]
    if op.idempotent and 200 <= status < 300:
        names.append("Idempotent-Replayed")
    if status in (429, 503):
        names.append("Retry-After")
    if status == 401:
        names.append("WWW-Authenticate")
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _responses(op: Operation, refs: Any) -> dict[str, Any]:
    own = dict(op.error_models)
    problem = {"application/problem+json": {"schema": refs[(Problem, "serialization")]}}
    responses: dict[str, Any] = {}
    for status in sorted(_statuses(op)):
        response: dict[str, Any] = {"description": DESCRIPTIONS[status], "headers": _headers(op, status)}
        if status == op.status:
            if status != 204:
                medias = op.media if isinstance(op.media, tuple) else (op.media,)
                response["content"] = {media: {"schema": _success_schema(op, refs)} for media in medias}
        elif status in own:
            response["content"] = {"application/json": {"schema": refs[(own[status], "serialization")]}}
        elif status >= 400:
            response["content"] = problem
        responses[str(status)] = response
    return responses


def _success_schema(op: Operation, refs: Any) -> dict[str, Any]:
    models = _response_models(op)
    if len(models) == 1:
        schema: dict[str, Any] = refs[(models[0], "serialization")]
        return schema
    if models:
        return {"anyOf": [refs[(m, "serialization")] for m in models]}
    return {"type": "object"} if op.media == "application/json" else STRING


def _security(op: Operation) -> list[dict[str, list[str]]]:
    """Exactly what web/access.py enforces; an API key's requirement names the scope it needs."""
    key_scopes = [op.scope] if op.scope else (["read"] if op.method == "GET" else [])
    requirements: dict[Access, list[dict[str, list[str]]]] = {
        Access.NONE: [],
        Access.ANYONE: [{}, {"bearerAuth": []}, {"apiKey": key_scopes}],
        Access.CREDENTIAL: [{"bearerAuth": []}, {"apiKey": key_scopes}],
        Access.BEARER: [{"bearerAuth": []}],
    }
    return requirements[op.access]


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


def _name(ref: dict[str, str]) -> str:
    return ref["$ref"].rsplit("/", 1)[1]
