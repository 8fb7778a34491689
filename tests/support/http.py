"""An API conversation through the test client (users, tokens, keys, posts), the problem body's
shape, the resources' key sets, and row counts straight from the database."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

PASSWORD = "correct-horse-battery"

PUBLIC_USER = {"id", "username", "bio", "role", "created_at"}
PRIVATE_USER = PUBLIC_USER | {"email", "updated_at"}
POST_KEYS = {
    "id",
    "title",
    "slug",
    "content",
    "status",
    "author",
    "comment_count",
    "created_at",
    "updated_at",
    "published_at",
}
COMMENT_KEYS = {"id", "post_id", "author", "content", "created_at", "updated_at"}
ITEM_KEYS = {"id", "sku", "name", "description", "price", "stock", "created_at", "updated_at"}
KEY_KEYS = {"id", "name", "prefix", "scopes", "tier", "created_at", "last_used_at", "expires_at", "revoked"}
ENVELOPE = {"items", "page", "per_page", "total", "pages", "next_cursor"}


def count(app: Flask, model: Any) -> int:
    """Rows of `model` as the database sees them (to prove a 4xx wrote nothing)."""
    with app.extensions["inkwell"].db.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def counts(app: Flask) -> dict[str, int]:
    import models

    return {
        name: count(app, getattr(models, name))
        for name in ("User", "Post", "Comment", "Item", "ApiKey", "RefreshToken")
    }


def links(response: Any) -> dict[str, str]:
    """The Link header as {rel: url}."""
    out: dict[str, str] = {}
    for part in response.headers.get("Link", "").split(","):
        if not part.strip():
            continue
        url, rel = part.split(";")
        out[rel.strip().removeprefix('rel="').rstrip('"')] = url.strip().strip("<>")
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Api:
    """Small helpers so tests read as HTTP conversations."""

    def __init__(self, client: FlaskClient, app: Flask) -> None:
        self.client = client
        self.app = app

    def register(self, username: str, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/auth/register",
            json={"username": username, "email": email or f"{username}@example.com", "password": password},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def user(self, username: str, *, admin: bool = False) -> dict[str, str]:
        """Register (and optionally promote) a user; return bearer headers."""
        created = self.register(username)
        if admin:
            self.promote(created["id"])
        return {"Authorization": f"Bearer {self.login(username)['access_token']}"}

    def promote(self, user_id: int) -> None:
        from models import User

        with self.app.extensions["inkwell"].db.session(write=True) as session:
            session.get(User, user_id).role = "admin"
            session.commit()

    def key(self, headers: dict[str, str], scopes: list[str], **extra: Any) -> dict[str, str]:
        response = self.client.post(
            "/api/v1/api-keys", json={"name": "k", "scopes": scopes, **extra}, headers=headers
        )
        assert response.status_code == 201, response.get_json()
        return {"X-API-Key": response.get_json()["key"]}

    def post(self, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
        body = {"title": "A title", "content": "Some content", **fields}
        response = self.client.post("/api/v1/posts", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The contract's problem+json shape, with the request id echoed."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    for field in ("type", "title", "status", "detail", "instance", "request_id"):
        assert field in body, field
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return body
