"""A Python SDK generated from the served /openapi.json drives a consumer's flow against the app.

openapi-python-client (a pinned dev dependency) generates the package once per module; the tests
call its `sync_detailed` functions through httpx's WSGI transport, in-process. The generated parsers
follow the document: a response whose status, shape or field types the document does not describe
makes the parse fail (or parse into the wrong model), and a field the server sends that the document
does not declare shows up in `additional_properties`, which the tests also refuse. So each test
holds the document to what the server really answers, as a consumer of the API would meet it.

The document depends on the code, not on the database: these tests run on SQLite only.
"""

from __future__ import annotations

import datetime
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx
import pytest
from flask import Flask

from app import create_app
from tests.support.http import PASSWORD
from tests.support.processes import free_port
from tests.support.services import make_settings

PACKAGE = "inkwell_sdk"
BASE_URL = "http://testserver"
GENERATE_TIMEOUT_SECONDS = 180


class Sdk:
    """The generated package, its operation modules by `tag.operation_id` and its models by name."""

    def __init__(self, package: ModuleType) -> None:
        self.package = package
        self.models = importlib.import_module(f"{PACKAGE}.models")

    def op(self, name: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.api.{name}")

    def __getattr__(self, name: str) -> Any:  # models: sdk.UserPrivateOut, sdk.PostCreate, ...
        return getattr(self.models, name)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sdk]:
    workdir = tmp_path_factory.mktemp("sdk")
    app = create_app(make_settings(f"sqlite:///{workdir / 'doc.db'}"))
    try:
        response = app.test_client().get("/openapi.json")
        assert response.status_code == 200
        (workdir / "doc.json").write_text(json.dumps(response.get_json(), indent=2))
    finally:
        app.extensions["inkwell"].db.dispose()

    bin_dir = Path(sys.executable).parent  # the generator and the ruff its post-hooks run
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    started = time.monotonic()
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            "doc.json",
            "--output-path",
            PACKAGE,
            "--meta",
            "none",
            "--fail-on-warning",  # an operation or model it cannot generate fails the module
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT_SECONDS,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, (
        f"openapi-python-client exited {result.returncode} after {elapsed:.1f}s\n"
        f"stdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-6000:]}"
    )
    sys.path.insert(0, str(workdir))
    try:
        print(f"openapi-python-client generated {PACKAGE} in {elapsed:.1f}s")
        yield Sdk(importlib.import_module(PACKAGE))
    finally:
        sys.path.remove(str(workdir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Consumer:
    """Clients of the generated SDK bound to one in-process app, recording the last exchange so
    that a response the generated parser cannot read (or a status the document does not list,
    which raises UnexpectedStatus) is reported with the operation, its status and its body."""

    def __init__(self, sdk: Sdk, app: Flask) -> None:
        self.sdk = sdk
        self.app = app
        self.last: httpx.Response | None = None

    def _record(self, response: httpx.Response) -> None:
        response.read()
        self.last = response

    def _options(self) -> dict[str, Any]:
        return {
            "base_url": BASE_URL,
            "raise_on_unexpected_status": True,  # a status the document does not list raises
            "httpx_args": {
                "transport": httpx.WSGITransport(app=self.app),
                "event_hooks": {"response": [self._record]},
            },
        }

    def anonymous(self) -> Any:
        return self.sdk.package.Client(**self._options())

    def bearer(self, access_token: str) -> Any:
        return self.sdk.package.AuthenticatedClient(token=access_token, **self._options())

    def api_key(self, secret: str) -> Any:
        return self.sdk.package.AuthenticatedClient(
            token=secret, prefix="", auth_header_name="X-API-Key", **self._options()
        )

    def call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        """`<tag>.<operation>.sync_detailed(...)`; a parse failure names the operation and the body."""
        self.last = None
        try:
            return self.sdk.op(operation).sync_detailed(*args, **kwargs)
        except Exception as exc:
            if self.last is None:
                raise
            error = f"{type(exc).__name__}: {exc}"
        request = self.last.request
        pytest.fail(
            f"{operation}: the generated client failed on {request.method} {request.url.path} → "
            f"{self.last.status_code} ({self.last.headers.get('Content-Type')}): {error}\n"
            f"body: {self.last.text[:1500]}",
            pytrace=False,
        )


@pytest.fixture
def build_app() -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def build(database_url: str, **overrides: Any) -> Flask:
        app = create_app(make_settings(database_url, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["inkwell"].db.dispose()


@pytest.fixture
def consumer(sdk: Sdk, build_app: Callable[..., Flask], sqlite_url: str) -> Consumer:
    return Consumer(sdk, build_app(sqlite_url))


def described(value: Any, cls: type, where: str = "body") -> Any:
    """`value` parsed as the documented model `cls`, and nothing the document leaves out."""
    assert isinstance(value, cls), (
        f"{where}: expected {cls.__name__}, parsed {type(value).__name__}: {value!r}"
    )
    _only_documented_fields(value, where)
    return value


def _only_documented_fields(value: Any, where: str) -> None:
    if isinstance(value, list):
        for index, element in enumerate(value):
            _only_documented_fields(element, f"{where}[{index}]")
        return
    if not attrs.has(type(value)):
        return
    declared = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
    if not declared:  # a free-form map (additionalProperties): its entries are its content
        return
    extra = getattr(value, "additional_properties", {})
    assert not extra, f"{where}: fields the document does not declare: {sorted(extra)}"
    for name in declared:
        _only_documented_fields(getattr(value, name), f"{where}.{name}")


def utc_datetime(value: Any) -> datetime.datetime:
    assert isinstance(value, datetime.datetime), value
    assert value.utcoffset() == datetime.timedelta(0), value
    return value


def register(consumer: Consumer, username: str) -> Any:
    sdk = consumer.sdk
    response = consumer.call(
        "auth.register_post",
        client=consumer.anonymous(),
        body=sdk.UserRegister(username=username, email=f"{username.upper()}@Example.com", password=PASSWORD),
    )
    assert response.status_code == 201, response.content
    user = described(response.parsed, sdk.UserPrivateOut)
    assert isinstance(user.id, int)
    assert (user.username, user.email, user.role, user.bio) == (
        username,
        f"{username}@example.com",
        "user",
        "",
    )
    utc_datetime(user.created_at)
    utc_datetime(user.updated_at)
    assert response.headers["Location"].endswith(f"/api/v1/users/{user.id}")
    return user


def login(consumer: Consumer, username: str) -> Any:
    response = consumer.call(
        "auth.login_post",
        client=consumer.anonymous(),
        body=consumer.sdk.LoginIn(username=username, password=PASSWORD),
    )
    assert response.status_code == 200, response.content
    tokens = described(response.parsed, consumer.sdk.TokenPair)
    assert isinstance(tokens.access_token, str)
    assert isinstance(tokens.refresh_token, str)
    assert (tokens.token_type, tokens.expires_in) == ("Bearer", 900)
    return tokens


def test_consumer_flow_through_the_generated_client(consumer: Consumer) -> None:
    sdk = consumer.sdk
    alice = register(consumer, "alice")
    bob = register(consumer, "bob")
    assert alice.id != bob.id
    as_alice = consumer.bearer(login(consumer, "alice").access_token)
    as_bob = consumer.bearer(login(consumer, "bob").access_token)

    created = consumer.call(
        "posts.posts_post",
        client=as_alice,
        body=sdk.PostCreate(title="Hello from the SDK", content="Generated, typed, parsed."),
    )
    assert created.status_code == 201, created.content
    draft = described(created.parsed, sdk.PostOut)
    assert isinstance(draft.id, int)
    assert (draft.title, draft.slug, draft.content) == (
        "Hello from the SDK",
        "hello-from-the-sdk",
        "Generated, typed, parsed.",
    )
    assert draft.status == sdk.PostOutStatus.DRAFT
    assert draft.published_at is None
    assert (draft.author.id, draft.author.username) == (alice.id, "alice")
    assert draft.comment_count == 0
    utc_datetime(draft.created_at)
    assert created.headers["Location"].endswith(f"/api/v1/posts/{draft.id}")

    patched = consumer.call(
        "posts.post_patch",
        draft.id,
        client=as_alice,
        body=sdk.PostUpdate(status=sdk.PostUpdateStatus.PUBLISHED),
    )
    assert patched.status_code == 200, patched.content
    published = described(patched.parsed, sdk.PostOut)
    assert published.id == draft.id
    assert published.status == sdk.PostOutStatus.PUBLISHED
    assert utc_datetime(published.published_at) >= draft.created_at

    listed = consumer.call("posts.posts_get", client=consumer.anonymous())
    assert listed.status_code == 200, listed.content
    page = described(listed.parsed, sdk.PostPage)
    assert (page.page, page.per_page, page.total, page.pages) == (1, 20, 1, 1)
    assert [(p.id, p.status, p.author.username) for p in page.items] == [
        (draft.id, sdk.PostOutStatus.PUBLISHED, "alice")
    ]

    commented = consumer.call(
        "comments.post_comments_post",
        draft.id,
        client=as_bob,
        body=sdk.CommentCreate(content="Nice post"),
    )
    assert commented.status_code == 201, commented.content
    comment = described(commented.parsed, sdk.CommentOut)
    assert isinstance(comment.id, int)
    assert (comment.post_id, comment.content) == (draft.id, "Nice post")
    assert (comment.author.id, comment.author.username) == (bob.id, "bob")
    utc_datetime(comment.created_at)

    comments = consumer.call("comments.post_comments_get", draft.id, client=consumer.anonymous())
    assert comments.status_code == 200, comments.content
    comment_page = described(comments.parsed, sdk.CommentPage)
    assert comment_page.total == 1
    assert [(c.id, c.content, c.author.username) for c in comment_page.items] == [
        (comment.id, "Nice post", "bob")
    ]

    key_response = consumer.call(
        "api_keys.api_keys_post",
        client=as_alice,
        body=sdk.ApiKeyCreate(name="sdk", scopes=[sdk.ApiKeyCreateScopesItem.READ]),
    )
    assert key_response.status_code == 201, key_response.content
    key = described(key_response.parsed, sdk.ApiKeyCreated)
    assert isinstance(key.key, str)
    assert key.prefix in key.key
    assert (key.name, list(key.scopes), key.tier, key.revoked) == ("sdk", ["read"], "standard", False)
    assert key.last_used_at is None
    assert key.expires_at is None

    me = consumer.call("users.me_get", client=consumer.api_key(key.key))
    assert me.status_code == 200, me.content
    myself = described(me.parsed, sdk.UserPrivateOut)
    assert (myself.id, myself.username, myself.email) == (alice.id, "alice", "alice@example.com")


def test_another_users_public_profile_parses(consumer: Consumer) -> None:
    """GET /users/{id} of someone else: the server sends the public shape (no email, updated_at)."""
    sdk = consumer.sdk
    alice = register(consumer, "alice")
    bob = register(consumer, "bob")
    as_alice = consumer.bearer(login(consumer, "alice").access_token)

    response = consumer.call("users.user_get", bob.id, client=as_alice)
    assert response.status_code == 200, response.content
    public = response.parsed
    assert not isinstance(public, sdk.Problem), public
    assert (public.id, public.username, public.role, public.bio) == (bob.id, "bob", "user", "")
    assert utc_datetime(public.created_at) == bob.created_at
    assert "email" not in public.to_dict()
    assert "updated_at" not in public.to_dict()
    assert public.additional_properties == {}

    mine = consumer.call("users.user_get", alice.id, client=as_alice)  # self: the private shape
    assert mine.status_code == 200, mine.content
    assert mine.parsed.to_dict()["email"] == "alice@example.com"


def _database_down_app(build_app: Callable[..., Flask]) -> Flask:
    return build_app(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")


def test_readyz_503_parses_as_readiness(sdk: Sdk, build_app: Callable[..., Flask]) -> None:
    consumer = Consumer(sdk, _database_down_app(build_app))
    response = consumer.call("ops.readyz_get", client=consumer.anonymous())
    assert response.status_code == 503, response.content
    readiness = described(response.parsed, sdk.Readiness)
    assert readiness.status == "fail"
    assert readiness.checks.additional_properties == {"database": "fail", "redis": "disabled"}


def test_database_down_api_503_parses_as_problem(sdk: Sdk, build_app: Callable[..., Flask]) -> None:
    consumer = Consumer(sdk, _database_down_app(build_app))
    healthz = consumer.call("ops.healthz_get", client=consumer.anonymous())
    assert healthz.status_code == 200, healthz.content
    assert described(healthz.parsed, sdk.Health).status == "ok"

    response = consumer.call("posts.posts_get", client=consumer.anonymous())
    assert response.status_code == 503, response.content
    problem = described(response.parsed, sdk.Problem)
    assert problem.status == 503
    assert problem.instance == "/api/v1/posts"
    assert problem.request_id == response.headers["X-Request-ID"]
    assert response.headers["Retry-After"].isdigit()


def test_rate_limited_429_parses_as_problem(
    sdk: Sdk, build_app: Callable[..., Flask], sqlite_url: str
) -> None:
    app = build_app(sqlite_url, rate_limit={"enabled": True, "anonymous": "2/minute"})
    consumer = Consumer(sdk, app)
    client = consumer.anonymous()
    for remaining in ("1", "0"):
        allowed = consumer.call("items.items_get", client=client)
        assert allowed.status_code == 200, allowed.content
        page = described(allowed.parsed, sdk.ItemPage)
        assert (page.items, page.total, page.page) == ([], 0, 1)
        assert allowed.headers["X-RateLimit-Remaining"] == remaining

    refused = consumer.call("items.items_get", client=client)
    assert refused.status_code == 429, refused.content
    problem = described(refused.parsed, sdk.Problem)
    assert problem.status == 429
    assert "rate limit" in problem.detail
    assert problem.instance == "/api/v1/items"
    assert problem.request_id == refused.headers["X-Request-ID"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
