"""Operations endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
import orjson
from flask import Response, current_app, send_from_directory
from flask_restful import Resource

from core import migrations
from resources.base import endpoint, json_response
from resources.context import state
from schemas.common import Health, Readiness

# Endpoint names the rate limiter must never refuse (API.md section 5): look here, not elsewhere.
UNLIMITED_ENDPOINTS: frozenset[str] = frozenset(
    {"healthz", "readyz", "metrics", "openapi", "docs", "docs_asset"}
)

# Swagger UI 5 as package data of flask-swagger-ui: served from here, nothing fetched from a CDN.
SWAGGER_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inkwell API docs</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  validatorUrl: null, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"});
</script></body></html>
"""


class Healthz(Resource):
    @endpoint(response=Health, auth="none")
    def get(self) -> Response:
        """200 while the process serves."""
        return json_response(Health(status="ok"))


class Readyz(Resource):
    @endpoint(response=Readiness, errors=(503,), error_models={503: Readiness}, auth="none")
    def get(self) -> Response:
        """Database and Redis checks with short timeouts; 503 names the failing one."""
        container = state()
        checks = {"database": "ok", "redis": "disabled"}
        try:
            with container.db.engine.connect() as conn:
                checks["database"] = "ok" if migrations.at_head(conn) else "fail"
        except Exception:
            checks["database"] = "fail"
        if container.redis is not None:
            try:
                container.redis.ping()
                checks["redis"] = "ok"
            except Exception:
                checks["redis"] = "fail"
        failing = "fail" in checks.values()
        response = json_response(
            Readiness(status="fail" if failing else "ok", checks=checks), 503 if failing else 200
        )
        response.headers["Cache-Control"] = "no-store"
        return response


class Metrics(Resource):
    @endpoint(media="text/plain", auth="none")
    def get(self) -> Response:
        """Prometheus text exposition, summed over every worker process."""
        from core import metrics

        body, content_type = metrics.exposition(state())
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


class OpenApiDoc(Resource):
    @endpoint(auth="none")
    def get(self) -> Response:
        """This API's OpenAPI 3.1 document, generated from the models that validate each request."""
        from core import openapi

        return Response(orjson.dumps(openapi.document(current_app)), mimetype="application/json")


class Docs(Resource):
    @endpoint(media="text/html", auth="none")
    def get(self) -> Response:
        """Swagger UI for /openapi.json; every asset is served by this app."""
        return Response(DOCS_PAGE, mimetype="text/html")


class DocsAsset(Resource):
    @endpoint(media="application/octet-stream", errors=(404,), auth="none")
    def get(self, asset: str) -> Response:
        """Swagger UI's bundled files (JS, CSS, icons)."""
        response = send_from_directory(SWAGGER_DIST, asset, max_age=3600)
        response.headers.pop("Set-Cookie", None)
        return response
