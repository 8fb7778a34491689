"""Operations in-process: health and readiness, metrics, log lines, CORS and security headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from flask import Flask
from sqlalchemy import text

from app import create_app
from core import migrations
from core.migrations import upgrade_database
from tests.support.http import assert_problem
from tests.support.processes import free_port
from tests.support.services import make_settings


def _closed_port_pg() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    upgrade_database(url)
    return url


def test_healthz_and_readyz_ok(client) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "disabled"}}


def test_database_down_readyz_503_healthz_200_api_503_with_retry_after() -> None:
    app = create_app(make_settings(_closed_port_pg()))
    client = app.test_client()
    try:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["database"] == "fail"
        listing = client.get("/api/v1/posts")
        body = assert_problem(listing, 503)
        assert listing.headers["Retry-After"].isdigit()
        assert "psycopg" not in body["detail"].lower()
    finally:
        app.extensions["inkwell"].db.dispose()


def test_redis_down_readyz_503_names_redis(sqlite_url: str) -> None:
    app = create_app(make_settings(sqlite_url, redis={"url": f"redis://127.0.0.1:{free_port()}/0"}))
    client = app.test_client()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json() == {"status": "fail", "checks": {"database": "ok", "redis": "fail"}}
        assert client.get("/healthz").status_code == 200
    finally:
        app.extensions["inkwell"].db.dispose()


def test_readyz_503_until_the_schema_is_at_the_migrations_head(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(make_settings(url))
    client = app.test_client()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json() == {"status": "fail", "checks": {"database": "fail", "redis": "disabled"}}
        upgrade_database(url)
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["checks"]["database"] == "ok"
    finally:
        app.extensions["inkwell"].db.dispose()


def test_readyz_503_when_the_database_is_behind_or_ahead_of_head(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    engine = app.extensions["inkwell"].db.engine
    with engine.connect() as conn:
        (version,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
    try:
        # The first migration (behind), one this code does not know (ahead), none at all.
        for other in ("8f4902bdd230", "0123456789ab", None):
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM alembic_version"))
                if other is not None:
                    conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": other})
            assert client.get("/readyz").get_json()["checks"]["database"] == "fail", other
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM alembic_version"))
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": version})
    assert client.get("/readyz").status_code == 200
    assert migrations.head_revisions.cache_info().misses == 1  # the scripts are read once


def test_metrics_count_route_templates_cache_results_and_refusals(make_app: Callable[..., Flask]) -> None:
    app = make_app(rate_limit={"enabled": True, "anonymous": "5/minute"})
    client = app.test_client()
    for post_id in (1, 2, 3):
        assert client.get(f"/api/v1/posts/{post_id}").status_code == 404
    first = client.get("/api/v1/items")
    assert first.headers["X-Cache"] == "MISS"
    assert client.get("/api/v1/items").headers["X-Cache"] == "HIT"
    assert client.get("/api/v1/items").status_code == 429  # the sixth request of the window
    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'inkwell_http_requests_total{method="GET",route="/api/v1/posts/<id:post_id>",status="404"} 3.0'
        in text
    )
    # Three lookups of absent posts and the first list read missed; the second list read hit.
    assert 'inkwell_cache_results_total{result="MISS"} 4.0' in text
    assert 'inkwell_cache_results_total{result="HIT"} 1.0' in text
    assert 'inkwell_rate_limit_refusals_total{route="/api/v1/items"} 1.0' in text
    assert (
        'inkwell_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/v1/items"} 3.0'
        in text
    )
    # Every connection the requests checked out went back: the gauge follows the pool's events.
    assert "inkwell_db_pool_connections_in_use 0.0" in text
    assert "/api/v1/posts/1" not in text  # raw paths never become labels


def test_the_pool_gauge_ignores_a_checkin_of_a_checkout_that_failed(make_app: Callable[..., Flask]) -> None:
    """SQLAlchemy fires `checkin` for a checkout that failed (a reconnect or a pre-ping that
    failed) without a `checkout` before it: that must not take the gauge below what is in use."""
    from types import SimpleNamespace

    app = make_app()
    client = app.test_client()
    engine = app.extensions["inkwell"].db.engine
    with engine.connect():
        engine.pool.dispatch.checkin(None, SimpleNamespace(info={}))  # a failed checkout's checkin
        assert "inkwell_db_pool_connections_in_use 1.0" in client.get("/metrics").get_data(as_text=True)
    assert "inkwell_db_pool_connections_in_use 0.0" in client.get("/metrics").get_data(as_text=True)


def test_json_access_line_and_error_line_carry_the_request_id(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(log={"json": True, "level": "INFO"})
    client = app.test_client()
    ok = client.get("/api/v1/posts/7", headers={"X-Request-ID": "trace-123"})
    monkeypatch.setattr("services.posts.get_visible", lambda **_: 1 / 0)  # a bug in a service
    boom = client.get("/api/v1/posts/7")
    assert boom.status_code == 500
    lines = [orjson.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = next(line for line in lines if line.get("request_id") == "trace-123")
    assert access["logger"] == "inkwell.access"
    assert {k: access[k] for k in ("method", "route", "status", "identity", "client")} == {
        "method": "GET",
        "route": "/api/v1/posts/<id:post_id>",
        "status": ok.status_code,
        "identity": "anonymous",
        "client": "127.0.0.1",
    }
    assert access["duration_ms"] >= 0 and "time" in access
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["request_id"] == boom.headers["X-Request-ID"]
    assert "ZeroDivisionError" in error["exception"]
    assert "ZeroDivisionError" not in boom.get_data(as_text=True)


def test_identity_kinds_in_the_access_log(make_app, capsys) -> None:
    from tests.support.http import Api

    app = make_app(log={"json": True, "level": "INFO"})
    api = Api(app.test_client(), app)
    bearer = api.user("logger")
    key = api.key(bearer, ["read"])
    capsys.readouterr()
    api.client.get("/api/v1/me", headers=bearer)
    api.client.get("/api/v1/me", headers=key)
    kinds = [
        orjson.loads(line)["identity"]
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and '"inkwell.access"' in line
    ]
    assert kinds == ["user", "api_key"]


def _raise_with_the_query(**kwargs: Any) -> None:
    raise ValueError(f"bad input {kwargs['query'].q}")  # a buggy service echoing client input


@pytest.mark.parametrize("json_lines", [False, True])
def test_log_lines_escape_control_characters(
    make_app: Callable[..., Flask],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    json_lines: bool,
) -> None:
    app = make_app(log={"json": json_lines, "level": "INFO"})
    monkeypatch.setattr("services.posts.list_posts", _raise_with_the_query)
    client = app.test_client()
    capsys.readouterr()
    assert client.get("/api/v1/nothing%0d%0aINJECTED").status_code == 404
    assert client.get("/api/v1/nothing%C2%85INJECTED%E2%80%A8INJECTED%1b[2J").status_code == 404
    assert client.get("/api/v1/posts?q=%0d%0aINJECTED").status_code == 500
    err = capsys.readouterr().err
    assert err.count("INJECTED") >= 4  # the lines were logged (JSON repeats the path in a field)
    lines = err.splitlines()  # splits at C1 NEL and U+2028 too, as some log viewers do
    assert not [line for line in lines if line.startswith("INJECTED")], err
    assert not [c for c in err if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F], err
    # Each line is a record, or (text format) an indented line of the traceback before it.
    record = (
        r"\{.*\}"
        if json_lines
        else r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ inkwell\.\S+ \[\w+\] .*|    .*"
    )
    assert [line for line in lines if not re.fullmatch(record, line)] == [], err
    if json_lines:
        entries = [orjson.loads(line) for line in lines]
        paths = [e["path"] for e in entries if e.get("logger") == "inkwell.access"]
        # Escaped in the line, exact in the value.
        assert "/api/v1/nothing\r\nINJECTED" in paths
        assert "/api/v1/nothing\x85INJECTED\u2028INJECTED\x1b[2J" in paths


def test_cors_allowed_origin_gets_headers_and_preflight(make_app) -> None:
    client = make_app(cors={"origins": ["https://app.example.com"]}).test_client()
    response = client.get("/api/v1/posts", headers={"Origin": "https://app.example.com"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    exposed = {h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    for name in ("etag", "link", "location", "retry-after", "x-request-id", "x-ratelimit-limit",
                 "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit", "ratelimit-policy",
                 "idempotent-replayed", "x-cache"):  # fmt: skip
        assert name in exposed, name
    preflight = client.options(
        "/api/v1/posts",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()


def test_cors_disallowed_origin_gets_no_cors_headers(make_app) -> None:
    client = make_app(cors={"origins": ["https://app.example.com"]}).test_client()
    response = client.get("/api/v1/posts", headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options(
        "/api/v1/posts",
        headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "DELETE"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Methods" not in preflight.headers


def test_security_headers(api) -> None:
    anonymous = api.client.get("/api/v1/posts")
    assert anonymous.headers["X-Content-Type-Options"] == "nosniff"
    assert anonymous.headers["Referrer-Policy"] == "no-referrer"
    mine = api.client.get("/api/v1/me", headers=api.user("private"))
    assert mine.headers["Cache-Control"].startswith("private")
    problem = api.client.get("/api/v1/nope")
    assert problem.headers["X-Content-Type-Options"] == "nosniff"
