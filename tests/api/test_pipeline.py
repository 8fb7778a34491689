"""The request pipeline: its order, and the holes that lived between hooks before it existed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_restful
import pytest
from flask import Flask, g, request, request_started
from flask_restful import Resource
from werkzeug.exceptions import ServiceUnavailable

from tests.support.http import Api, assert_problem
from web import pipeline
from web.contract import Access, CachePolicy, operation
from web.versions import Namespace

BAD_LOGIN = {"username": "alice", "password": "wrong-password"}


def limited(make_app: Callable[..., Flask], **limits: Any) -> Api:
    app = make_app(rate_limit={"enabled": True, **limits})
    return Api(app.test_client(), app)


def login(api: Api, body: Any, addr: str = "10.0.0.1", **kwargs: Any) -> Any:
    return api.client.post("/api/v1/auth/login", environ_base={"REMOTE_ADDR": addr}, **kwargs, json=body)


def test_flask_hooks_and_signals_run_around_the_steps(make_app) -> None:
    app = make_app()
    seen: list[tuple[str, Any]] = []
    app.before_request(lambda: seen.append(("before_request", g.inkwell.request_id)))
    app.after_request(lambda response: seen.append(("after_request", response.status_code)) or response)
    app.teardown_request(lambda exc: seen.append(("teardown", exc)))

    def started(sender: Flask, **extra: Any) -> None:
        seen.append(("request_started", sender is app))

    with request_started.connected_to(started, app):
        response = app.test_client().get("/api/v1/items", headers={"X-Request-ID": "abc"})
    assert response.status_code == 200
    assert seen == [
        ("request_started", True),
        ("before_request", "abc"),
        ("after_request", 200),
        ("teardown", None),
    ]


def test_a_before_request_hook_that_refuses_gets_a_problem_and_the_common_headers(make_app) -> None:
    app = make_app()

    def maintenance() -> None:
        raise ServiceUnavailable("down for maintenance")

    app.before_request(maintenance)
    response = app.test_client().get("/api/v1/items", headers={"X-Request-ID": "abc"})
    assert_problem(response, 503)
    assert response.get_json()["detail"] == "down for maintenance"
    assert response.headers["X-Request-ID"] == "abc"
    assert app.test_client().get("/console/login").status_code == 503


def test_a_before_request_hook_that_returns_a_response_answers_the_request(make_app) -> None:
    app = make_app()
    views: list[str] = []
    for name in ("healthz", "readyz"):
        view = app.view_functions[name]
        app.view_functions[name] = lambda view=view, name=name, **kw: views.append(name) or view(**kw)
    app.before_request(lambda: {"status": "ok"} if request.path == "/healthz" else None)
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}
    assert app.test_client().get("/readyz").get_json()["status"] == "ok"
    assert views == ["readyz"]  # the hook answered /healthz: its view never ran


def test_a_console_page_a_hook_answers_keeps_the_consoles_headers(make_app) -> None:
    app = make_app()
    app.before_request(lambda: "paused" if request.path == "/console/login" else None)
    page = app.test_client().get("/console/login")
    assert page.get_data(as_text=True) == "paused"
    assert "default-src" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Request-ID"]


def test_rate_limit_runs_before_the_cache_and_after_authentication(make_app) -> None:
    api = limited(make_app, anonymous="2/minute", authenticated="100/minute", login="100/minute")
    headers = api.user("reader")  # register + login: the address's 2
    # A cache HIT is still counted (the limiter runs first), against the user, not the address.
    assert api.client.get("/api/v1/items", headers=headers).headers["X-Cache"] == "MISS"
    hit = api.client.get("/api/v1/items", headers=headers)
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.headers["X-RateLimit-Limit"] == "100"
    assert hit.headers["X-RateLimit-Remaining"] == "98"
    assert_problem(api.client.get("/api/v1/items"), 429)  # the address's budget is spent


def test_failed_authentication_404s_and_405s_count_against_the_address(make_app) -> None:
    api = limited(make_app, anonymous="4/minute")
    assert_problem(api.client.get("/api/v1/items", headers={"Authorization": "Bearer forged"}), 401)
    assert_problem(api.client.get("/api/v1/items", headers={"X-API-Key": "iwk_00_forged"}), 401)
    assert_problem(api.client.get("/api/v1/no-such-thing"), 404)
    refused = api.client.delete("/api/v1/items")
    assert_problem(refused, 405)
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert_problem(api.client.get("/api/v1/items"), 429)


def test_a_refused_credential_still_sees_the_rate_limit_headers(make_app) -> None:
    api = limited(make_app, anonymous="5/minute")
    response = api.client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert_problem(response, 401)
    assert response.headers["X-RateLimit-Remaining"] == "4"


def test_a_login_body_the_key_function_cannot_read_never_resets_the_counters(make_app) -> None:
    api = limited(make_app, login="3/minute", anonymous="100/minute")
    api.register("alice")
    assert_problem(login(api, BAD_LOGIN), 401)
    assert_problem(login(api, BAD_LOGIN), 401)
    # 50,000 nested arrays: the account cannot be read from it, and the guess still counts
    # against the address.
    nested = api.client.post(
        "/api/v1/auth/login",
        data=b"[" * 50_000,
        content_type="application/json",
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert_problem(nested, 400)  # counted as the address's third attempt, then refused as malformed
    assert_problem(login(api, BAD_LOGIN), 429)
    # The account's own counter (two attempts: the nested body named no account) holds too.
    assert_problem(login(api, BAD_LOGIN, addr="10.0.0.2"), 401)
    assert_problem(login(api, BAD_LOGIN, addr="10.0.0.3"), 429)


def test_the_login_limit_is_keyed_on_the_account_a_name_resolves_to(make_app) -> None:
    api = limited(make_app, login="2/minute", anonymous="100/minute")
    api.register("alice")
    # Three addresses, one account under three spellings: the account's limit is what refuses.
    assert_problem(login(api, BAD_LOGIN, addr="10.0.0.1"), 401)
    assert_problem(login(api, {**BAD_LOGIN, "username": "alice@example.com"}, addr="10.0.0.2"), 401)
    refused = login(api, {**BAD_LOGIN, "username": "ALICE"}, addr="10.0.0.3")
    assert_problem(refused, 429)
    assert refused.headers["RateLimit-Policy"] == '"login";q=2;w=60'
    # Another account from a fresh address is not affected.
    api.register("bob")
    assert_problem(login(api, {**BAD_LOGIN, "username": "bob"}, addr="10.0.0.4"), 401)


def test_a_limiter_storage_error_counts_in_process_never_unlimited(make_app, monkeypatch) -> None:
    api = limited(make_app, anonymous="3/minute")
    limits = api.app.pipeline.limits

    class Broken:
        def count(self, *_args: Any) -> Any:
            raise ConnectionError("storage down")

    monkeypatch.setattr(limits, "remote", Broken())  # as if Redis were configured, and failing
    statuses = [api.client.get("/api/v1/items").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_login_and_refresh_tokens_are_never_replayed(client, api) -> None:
    api.register("alice")
    key = {"Idempotency-Key": "same-key"}
    body = {"username": "alice", "password": "correct-horse-battery"}
    first = client.post("/api/v1/auth/login", json=body, headers=key)
    second = client.post("/api/v1/auth/login", json=body, headers=key)
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert first.get_json()["refresh_token"] != second.get_json()["refresh_token"]
    spent = {"refresh_token": first.get_json()["refresh_token"]}
    assert client.post("/api/v1/auth/refresh", json=spent, headers=key).status_code == 200
    # The same refresh token again, with the same key: reuse (401, the login revoked), not a replay.
    assert_problem(client.post("/api/v1/auth/refresh", json=spent, headers=key), 401)


def test_unknown_methods_share_one_metrics_label(client) -> None:
    junk = "X" * 8000
    for method in (junk, junk[:-1], "BREW"):
        assert client.open("/api/v1/items", method=method).status_code == 405
    text = client.get("/metrics").get_data(as_text=True)
    assert junk[:100] not in text and "BREW" not in text
    assert 'method="OTHER",route="<unmatched>",status="405"} 3.0' in text


@pytest.mark.parametrize(
    ("method", "path", "headers_for", "status"),
    [
        ("post", "/api/v1/auth/logout", "key", 403),  # bearer only
        ("patch", "/api/v1/users/1", "key", 403),  # bearer only (and admin)
        ("delete", "/api/v1/users/1", "key", 403),  # bearer only
        ("patch", "/api/v1/users/1", "bearer", 403),  # admin only
        ("post", "/api/v1/items", "bearer", 403),  # admin only
        ("patch", "/api/v1/api-keys/1", "bearer", 403),  # admin only
        ("post", "/api/v1/posts", "key", 403),  # the key lacks posts:write
        ("get", "/api/v1/me", None, 401),  # a credential needed
    ],
)
def test_declared_access_is_enforced_before_any_service_runs(
    api, monkeypatch, method: str, path: str, headers_for: str | None, status: int
) -> None:
    bearer = api.user("plain")
    key = api.key(bearer, ["read"])
    # Services would refuse too; take them away to prove the declaration alone refuses.
    for name in ("auth.logout", "users.admin_update", "users.delete", "items.create", "api_keys.set_tier",
                 "posts.create", "users.me"):  # fmt: skip
        monkeypatch.setattr(f"services.{name}", _must_not_run)
    headers = {"key": key, "bearer": bearer, None: {}}[headers_for]
    assert_problem(getattr(api.client, method)(path, json={}, headers=headers), status)


def _must_not_run(**_kwargs: Any) -> None:
    raise AssertionError("the pipeline let a refused caller reach the service")


def test_every_operation_declares_its_access(app: Flask) -> None:
    for op in pipeline.operations(app):
        assert isinstance(op.access, Access), op.operation_id
        assert op.summary and op.tag, op.operation_id


@pytest.mark.parametrize(
    "declared",
    [
        {"invalidates": ("post",)},  # a bare string, misspelt: lists would stay stale for the TTL
        {"invalidates": ("posts",)},  # a bare string, even a right one
        {"invalidates": (Namespace.AUTH,)},  # revocation is the service's to record, not a bump
        {"cache": CachePolicy("items")},
    ],
)
def test_a_namespace_outside_the_enum_stops_registration(declared: dict[str, Any]) -> None:
    app = pipeline.InkwellFlask("namespaces")
    app.pipeline = pipeline.Pipeline.__new__(pipeline.Pipeline)
    app.pipeline.operations = {}

    class Misdeclared(Resource):
        @operation(**declared)
        def get(self) -> Any:
            return {}

    with pytest.raises(TypeError, match="is not a response namespace"):
        pipeline.register(app, flask_restful.Api(app), [("/x", Misdeclared, "misdeclared")])
