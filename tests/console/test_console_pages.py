"""Console pages through the pipeline: HTML error pages, strict CSP, the API unchanged; admin pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.exc import OperationalError

from services import auth, posts
from tests.console.conftest import Console, errors, text
from tests.support.http import PASSWORD


def test_console_404_is_an_html_page_with_strict_headers(console: Console) -> None:
    response = console.client.get("/console/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "<h1>404 Not Found</h1>" in text(response)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_api_keeps_problem_json_and_its_headers(console: Console) -> None:
    response = console.client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert "Content-Security-Policy" not in response.headers
    assert "Set-Cookie" not in response.headers
    # The session exists only under /console: API responses do not vary on the cookie.
    console.user("alice")
    listed = console.client.get("/api/v1/posts")
    assert listed.status_code == 200
    assert "Set-Cookie" not in listed.headers and "Cookie" not in listed.headers.get("Vary", "")


def test_every_page_has_no_inline_script(console: Console) -> None:
    console.user("alice")
    for path in ("/console/login", "/console/signup", "/console/keys", "/console/usage", "/console/posts"):
        html = text(console.client.get(path))
        assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html, path
    created = text(
        console.client.post(
            "/console/keys",
            data={"csrf_token": console.token("/console/keys"), "name": "k", "scopes": ["read"]},
        )
    )
    assert '<script src="/console/static/copy.js"></script>' in created
    script = console.client.get("/console/static/copy.js")
    assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
    assert console.client.get("/console/static/console.css").mimetype == "text/css"


def test_admin_pages_are_403_for_users(console: Console) -> None:
    console.user("alice")
    for path in ("/console/admin/users", "/console/admin/items"):
        response = console.client.get(path)
        assert response.status_code == 403 and "<h1>403 Forbidden</h1>" in text(response)
    assert "/console/admin/users" not in text(console.client.get("/console/keys"))  # not offered either


def promote(console: Console, username: str) -> None:
    from sqlalchemy import select

    from models import User

    with console.app.extensions["inkwell"].db.session(write=True) as session:
        session.scalars(select(User).where(User.username == username)).one().role = "admin"
        session.commit()


def test_admin_changes_a_role_and_adds_an_item(console: Console) -> None:
    console.signup("bob")
    console.user("root")
    promote(console, "root")
    page = text(console.client.get("/console/admin/users"))
    assert "bob" in page and "Items" in text(console.client.get("/console/keys"))
    bob = console.client.get("/api/v1/users?q=bob").get_json()["items"][0]
    changed = console.submit(
        f"/console/admin/users/{bob['id']}/role", {"role": "admin"}, form="/console/admin/users"
    )
    assert changed.status_code == 303
    assert console.client.get("/api/v1/users?q=bob").get_json()["items"][0]["role"] == "admin"
    # bob's bearer is remembered as an admin; demoting him must reach every remembered caller.
    token = console.client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    for _ in range(2):
        assert console.client.get("/api/v1/api-keys?all=true", headers=bearer).status_code == 200
    demoted = console.submit(
        f"/console/admin/users/{bob['id']}/role", {"role": "user"}, form="/console/admin/users"
    )
    assert demoted.status_code == 303
    assert console.client.get("/api/v1/api-keys?all=true", headers=bearer).status_code == 403
    bad = console.submit("/console/admin/items", {"name": "", "price": "1e3", "stock": "2"})
    assert bad.status_code == 422 and set(errors(bad)) == {"name", "price"}
    added = console.submit(
        "/console/admin/items", {"name": "Pen", "price": "19.90", "stock": "3", "description": ""}
    )
    assert added.status_code == 303
    assert "Pen" in text(console.client.get("/console/admin/items"))
    assert [i["price"] for i in console.client.get("/api/v1/items").get_json()["items"]] == ["19.90"]


@pytest.mark.parametrize(
    ("error", "status"),
    [(RuntimeError("secret detail"), 500), (OperationalError("SELECT", {}, Exception("down")), 503)],
)
def test_failures_are_html_pages_without_leaks(console: Console, monkeypatch, error, status) -> None:  # type: ignore[no-untyped-def]
    console.user("alice")

    def boom(**_kwargs):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr(posts, "list_posts", boom)
    response = console.client.get("/console/posts")
    assert response.status_code == status and response.mimetype == "text/html"
    assert f"<h1>{status} " in text(response) and "secret detail" not in text(response)
    if status == 503:
        assert response.headers["Retry-After"] == "5"


def test_a_database_down_while_reading_the_session_is_a_503_page(console: Console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    console.user("alice")

    def down(**_kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT", {}, Exception("down"))

    monkeypatch.setattr(auth, "session_actor", down)
    response = console.client.get("/console/keys")
    assert response.status_code == 503 and "<h1>503 Service Unavailable</h1>" in text(response)


def test_the_console_counts_against_the_callers_budget(make_console: Callable[..., Console]) -> None:
    console = make_console(rate_limit={"enabled": True, "anonymous": "3/minute"})
    for _ in range(3):
        assert console.client.get("/console/login").status_code == 200
    refused = console.client.get("/console/login")
    assert refused.status_code == 429 and "<h1>429 Too Many Requests</h1>" in text(refused)
    assert refused.headers["Content-Security-Policy"] and int(refused.headers["Retry-After"]) >= 1
    # The page's own no-store and the limiter's are one header, not two.
    assert refused.headers.getlist("Cache-Control") == ["no-store"]
    assert len(refused.headers.getlist("Retry-After")) == 1
