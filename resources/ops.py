"""Liveness and readiness for orchestrators and load balancers (never rate limited)."""

from __future__ import annotations

from flask import Response
from flask_restful import Resource
from sqlalchemy import text

from resources.base import endpoint, json_response
from resources.context import state
from schemas.common import Health, Readiness


class Healthz(Resource):
    @endpoint(response=Health)
    def get(self) -> Response:
        """200 while the process serves."""
        return json_response(Health(status="ok"))


class Readyz(Resource):
    @endpoint(response=Readiness, errors=(503,))
    def get(self) -> Response:
        """Database and Redis checks with short timeouts; 503 names the failing one."""
        container = state()
        checks = {"database": "ok", "redis": "disabled"}
        try:
            with container.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
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
