"""Operations endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
from pathlib import Path

import flask_swagger_ui
import orjson
from flask import Response, current_app, request, send_from_directory
from flask_restful import Resource

from core import migrations, redis
from core.settings import Settings
from schemas.common import Health, Readiness
from services.errors import NotFound, Unauthorized
from web import openapi
from web.context import container
from web.contract import Access, Shared, json_response, operation

# Never rate limited, credentials never read (API.md section 5): load balancers and scrapers poll them.
OPS: Shared = {"access": Access.NONE, "limited": False}

# Swagger UI 5 as package data of flask-swagger-ui: served from here, nothing fetched from a CDN.
SWAGGER_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
# The media types of the bundled files, as send_from_directory will label them.
ASSET_TYPES = tuple(
    sorted(
        {mimetypes.guess_type(path.name)[0] or "application/octet-stream" for path in SWAGGER_DIST.iterdir()}
    )
)
DOCS_SCRIPT = """
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  validatorUrl: null, presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout"});
"""
DOCS_PAGE = (
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Inkwell API docs</title>
<link rel="stylesheet" href="/docs/swagger-ui.css"><link rel="icon" href="/docs/favicon-32x32.png">
</head><body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script>"""
    + DOCS_SCRIPT
    + """</script></body></html>
"""
)
# This origin only, never in a frame. Swagger UI needs its one inline script (allowed by hash),
# inline styles and data: images; "Try it out" calls this origin (connect-src).
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'sha256-"
        + base64.b64encode(hashlib.sha256(DOCS_SCRIPT.encode()).digest()).decode()
        + "'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
}


class Healthz(Resource):
    @operation(response=Health, **OPS)
    def get(self) -> Response:
        """Liveness.

        200 while the process serves.
        """
        return json_response(Health(status="ok"))


class Readyz(Resource):
    @operation(response=Readiness, errors=(503,), error_models={503: Readiness}, **OPS)
    def get(self) -> Response:
        """Readiness.

        Database and Redis checks with short timeouts; 503 marks the failing one. Redis is checked
        as configured: the master found through the sentinels, or every cluster master. A worker
        that is draining before it exits (SIGTERM, SIGHUP) adds "server": "fail".
        """
        app = container()
        checks = {"database": "ok", "redis": "disabled"}
        if app.draining:
            checks["server"] = "fail"
        try:
            with app.db.engine.connect() as conn:
                checks["database"] = "ok" if migrations.at_head(conn) else "fail"
        except Exception:
            checks["database"] = "fail"
        if app.redis is not None:
            try:
                redis.check(app.redis)
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
    @operation(media="text/plain", errors=(401, 404), **OPS)
    def get(self) -> Response:
        """Prometheus metrics.

        Text exposition, summed over every worker process, rendered at most once a second. With
        `metrics.token` configured a scrape sends `Authorization: Bearer <token>` (else 401); in
        production without one, /metrics is not served (404).
        """
        app = container()
        _check_scrape(app.settings, request.headers.get("Authorization"))
        assert app.exposition is not None
        body, content_type = app.exposition.render()
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def _check_scrape(settings: Settings, authorization: str | None) -> None:
    """Whether this scrape may read /metrics (metrics.token; production needs one)."""
    token = settings.metrics.token
    if not token:
        if settings.env == "production":
            raise NotFound("metrics are served in production only with metrics.token configured")
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("/metrics needs Authorization: Bearer <metrics.token>")


class OpenApiDoc(Resource):
    @operation(**OPS)
    def get(self) -> Response:
        """This OpenAPI document.

        Generated from the declarations the request pipeline enforces.
        """
        return Response(orjson.dumps(openapi.document(current_app)), mimetype="application/json")


class Docs(Resource):
    @operation(media="text/html", **OPS)
    def get(self) -> Response:
        """Interactive API docs.

        Swagger UI for /openapi.json; every asset is served by this app.
        """
        return Response(DOCS_PAGE, mimetype="text/html", headers=DOCS_HEADERS)


class DocsAsset(Resource):
    @operation(media=ASSET_TYPES, errors=(404,), **OPS)
    def get(self, asset: str) -> Response:
        """A docs asset.

        Swagger UI's bundled files (JS, CSS, icons).
        """
        # Only what the document declares: no validators (the files change only with the pinned
        # package), no Content-Disposition; an hour in any cache.
        response = send_from_directory(SWAGGER_DIST, asset, max_age=3600, conditional=False, etag=False)
        for name in ("Set-Cookie", "Content-Disposition", "Last-Modified", "Expires"):
            response.headers.pop(name, None)
        return response
