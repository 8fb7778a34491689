"""The OpenAPI document: valid 3.1, every url_map rule and method documented, security and errors."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from tests.support.openapi_check import NOT_API
from web.pipeline import operations


def _doc(client: FlaskClient) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_document_is_valid_openapi_31(client: FlaskClient) -> None:
    doc = _doc(client)
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_url_map_rule_and_method_is_documented(app: Flask, client: FlaskClient) -> None:
    paths = _doc(client)["paths"]
    for rule in app.url_map.iter_rules():
        if NOT_API.match(rule.rule):  # the console's HTML pages are no operations
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        assert path in paths, rule.rule
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], (rule.rule, method)


def test_component_names_are_clean_and_errors_are_problems(client: FlaskClient) -> None:
    doc = _doc(client)
    names = set(doc["components"]["schemas"])
    assert {"PostCreate", "PostOut", "PostPage", "Problem", "ItemOut"} <= names
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", n) for n in names)
    create = doc["paths"]["/api/v1/posts"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PostCreate"
    }
    responses = create["responses"]
    assert responses["201"]["headers"]["Location"] == {"$ref": "#/components/headers/Location"}
    assert doc["components"]["headers"]["Location"]["required"] is True
    for status in ("400", "401", "413", "415", "422", "429", "500", "503"):
        content = responses[status]["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert create["security"] == [{"bearerAuth": []}, {"apiKey": ["posts:write"]}]


def test_path_and_query_parameters(client: FlaskClient) -> None:
    doc = _doc(client)
    get_post = doc["paths"]["/api/v1/posts/{post_id}"]["get"]
    assert get_post["parameters"][0] == {
        "name": "post_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 2_147_483_647},
    }
    assert "ETag" in get_post["responses"]["200"]["headers"]
    # Anyone may read; an API key needs the `read` scope (enforced in web/access.py).
    assert get_post["security"] == [{}, {"bearerAuth": []}, {"apiKey": ["read"]}]
    query = {p["name"]: p for p in doc["paths"]["/api/v1/posts"]["get"]["parameters"]}
    assert query["per_page"]["schema"]["maximum"] == 100
    assert "-created_at" in query["sort"]["schema"]["enum"]
    schemes = doc["components"]["securitySchemes"]
    assert {k: v for k, v in schemes["bearerAuth"].items() if k != "description"} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert {k: v for k, v in schemes["apiKey"].items() if k != "description"} == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }


def test_ops_endpoints_are_never_rate_limited_and_document_no_429(app: Flask, client: FlaskClient) -> None:
    doc = _doc(client)
    unlimited = {op.endpoint for op in operations(app) if not op.limited}
    assert unlimited == {"healthz", "readyz", "metrics", "openapi", "docs", "docs_asset"}
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert "429" not in doc["paths"][path]["get"]["responses"], path
        assert doc["paths"][path]["get"]["security"] == []


def test_document_is_cached_per_app(app: Flask, client: FlaskClient) -> None:
    _doc(client)
    first = app.extensions["inkwell"].openapi
    _doc(client)
    assert app.extensions["inkwell"].openapi is first


def test_docs_page_is_served_locally(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/openapi.json" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert client.get("/docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/no-such-file.js").status_code == 404


def test_the_checking_client_catches_drift(app: Flask, client: FlaskClient) -> None:
    """The wrapper every test uses is not a formality: each kind of drift fails it."""
    import pytest
    from flask import Response

    from tests.support.openapi_check import check

    good = client.get("/api/v1/items")  # passed the check on its way here
    drifts = {
        "undeclared header": Response(good.get_data(), 200, {"X-Debug": "1"}, mimetype="application/json"),
        "undeclared status": Response(b"{}", 418, mimetype="application/json"),
        "undeclared media type": Response(good.get_data(), 200, mimetype="text/plain"),
        "body off the schema": Response(b'{"items": "no"}', 200, mimetype="application/json"),
        "header value off its schema": Response(
            good.get_data(), 200, {"X-Cache": "MAYBE"}, mimetype="application/json"
        ),
    }
    for name, response in drifts.items():
        with pytest.raises(AssertionError):
            check(app, "GET", "/api/v1/items", response)
        print(name, "caught")
    check(app, "GET", "/api/v1/items", good)  # the real one still passes
