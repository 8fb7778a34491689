"""Helpers shared by the API tests: row counts straight from the database, shape checks."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

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
ENVELOPE = {"items", "page", "per_page", "total", "pages"}


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
