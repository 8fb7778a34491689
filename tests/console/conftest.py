"""The console through Flask's test client: fetch a form, read its CSRF token, post it back."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.http import PASSWORD

TOKEN = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
SECRET = re.compile(r"iwk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


class Console:
    def __init__(self, app: Flask, client: FlaskClient | None = None) -> None:
        self.app = app
        self.client = client or app.test_client()

    def token(self, path: str) -> str:
        page = self.client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        found = TOKEN.search(page.get_data(as_text=True))
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    def submit(self, path: str, data: dict[str, Any], *, form: str | None = None) -> Any:
        """Post `data` with the token of the form shown at `form` (default: the same page)."""
        return self.client.post(path, data={"csrf_token": self.token(form or path), **data})

    def signup(self, username: str, password: str = PASSWORD) -> Any:
        response = self.submit(
            "/console/signup",
            {"username": username, "email": f"{username}@example.com", "password": password},
        )
        assert response.status_code == 303, errors(response)
        return response

    def login(self, username: str, password: str = PASSWORD) -> Any:
        return self.submit("/console/login", {"username": username, "password": password})

    def user(self, username: str) -> Console:
        self.signup(username)
        response = self.login(username)
        assert response.status_code == 303, errors(response)
        return self

    def create_key(self, name: str = "ci", scopes: tuple[str, ...] = ("read",), **extra: str) -> str:
        response = self.submit("/console/keys", {"name": name, "scopes": list(scopes), **extra})
        assert response.status_code == 200, errors(response)
        found = SECRET.search(response.get_data(as_text=True))
        assert found, "no secret on the created page"
        return found.group(0)


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def errors(response: Any) -> dict[str, list[str]]:
    """Each field's error messages, by the id of the field they describe (`''`: the form's)."""
    html = text(response)
    found: dict[str, list[str]] = {}
    for field, message in re.findall(r'<p class="error" id="([\w-]+)-error">([^<]*)</p>', html):
        found.setdefault(field, []).append(message)
    block = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', html, re.S)
    if block:
        found[""] = re.findall(r"<p>([^<]*)</p>", block.group(1))
    return found


def field_has_error(response: Any, field: str) -> bool:
    """The message is next to its input: the input names it in aria-describedby."""
    html = text(response)
    tag = re.search(rf"<(?:input|textarea|select)[^>]*\bid=\"{field}\"[^>]*>", html)
    return tag is not None and f"{field}-error" in tag.group(0) and 'aria-invalid="true"' in tag.group(0)


@pytest.fixture
def console(app: Flask) -> Console:
    return Console(app)


@pytest.fixture
def make_console(make_app: Callable[..., Flask]) -> Callable[..., Console]:
    def build(**overrides: Any) -> Console:
        return Console(make_app(**overrides))

    return build
