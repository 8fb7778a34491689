"""A Flask test client that checks every response against the app's own OpenAPI document.

Every app the fixtures build uses it, so no test can forget: the status must be declared for the
operation, every header sent must be declared (and its value fit the declared schema), the media
type must be declared, and the body must validate against the declared schema.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator

from web import openapi

# Headers any HTTP response may carry that an OpenAPI document does not describe: the media type
# and length (OpenAPI says Content-Type is ignored as a header), and CORS, which is configuration.
GENERIC = re.compile(r"^(content-type|content-length|vary|access-control-.*)$", re.IGNORECASE)


# The console's HTML pages (console/views.py) are no part of the API or its document.
NOT_API = re.compile(r"^/console(/|$)")


class ValidatingClient(FlaskClient):
    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        # CORS preflights are not operations.
        if request.method != "OPTIONS" and not NOT_API.match(request.path):
            check(self.application, request.method, request.path, response)
        return response


def check(app: Flask, method: str, path: str, response: Any) -> None:
    doc = openapi.document(app)
    where = f"{method} {path} -> {response.status_code}"
    found = _operation(doc, "GET" if method == "HEAD" else method, path)
    if found is None:
        # Not an operation: only the router's own answers are possible, as problems.
        assert response.status_code in (404, 405), f"{where}: no documented operation"
        if response.status_code == 405:
            assert response.headers.get("Allow"), f"{where}: 405 without Allow"
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        _body(app, doc, where, response, {"application/problem+json": problem})
        return
    declared = found["responses"].get(str(response.status_code))
    assert declared is not None, f"{where}: status not documented (has {sorted(found['responses'])})"
    headers = {name.lower(): _resolve(doc, spec) for name, spec in declared.get("headers", {}).items()}
    for name, value in response.headers.items():
        if GENERIC.match(name):
            continue
        spec = headers.get(name.lower())
        assert spec is not None, f"{where}: header {name} sent but not documented"
        _value(where, name, value, spec["schema"])
    for name, spec in headers.items():
        if spec.get("required"):
            assert name in {h.lower() for h, _ in response.headers.items()}, (
                f"{where}: required header {name}"
            )
    if method != "HEAD":
        _body(app, doc, where, response, declared.get("content"))


def _body(app: Flask, doc: dict[str, Any], where: str, response: Any, content: dict[str, Any] | None) -> None:
    data = response.get_data()
    if not content:
        assert data == b"", f"{where}: a body where none is documented"
        return
    ranges = {response.mimetype, response.mimetype.split("/")[0] + "/*", "*/*"}
    assert ranges & content.keys(), f"{where}: media type {response.mimetype} not in {sorted(content)}"
    if response.mimetype.endswith("json"):
        schema = content[response.mimetype]["schema"]
        errors = list(_validator(app, doc, schema).iter_errors(response.get_json()))
        assert not errors, f"{where}: body does not match the document: {[e.message for e in errors[:3]]}"


def _value(where: str, name: str, value: str, schema: dict[str, Any]) -> None:
    if schema.get("type") == "integer":
        assert re.fullmatch(r"[0-9]+", value), f"{where}: header {name}={value!r} is not an integer"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: header {name}={value!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: header {name}={value!r} breaks its pattern"


def _resolve(doc: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    ref = spec.get("$ref")
    if ref is None:
        return spec
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for template, item in doc["paths"].items():
        if _matcher(template).fullmatch(path) and method.lower() in item:
            return item[method.lower()]
    return None


@cache
def _matcher(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def _validator(app: Flask, doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """One validator per schema, kept with the app (whose document holds the schema); the
    document's components ride along so every $ref resolves."""
    validators = app.extensions.setdefault("openapi_validators", {})
    found = validators.get(id(schema))
    if found is None:
        found = validators[id(schema)] = Draft202012Validator({**schema, "components": doc["components"]})
    return found
