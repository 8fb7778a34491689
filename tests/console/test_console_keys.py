"""API keys in the console: create (secret once), list, revoke, usage; and the login limit."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.console.conftest import SECRET, Console, errors, field_has_error, text
from tests.support.http import PASSWORD


def test_create_key_shows_the_secret_once_and_the_api_accepts_it(console: Console) -> None:
    console.user("alice")
    secret = console.create_key("deploy", ("read", "posts:write"))
    listed = console.client.get("/console/keys")
    page = text(listed)
    assert SECRET.search(page) is None  # never shown again
    prefix = secret.split("_")[1]
    row = re.search(rf"<tr>\s*<td>deploy</td>\s*<td><code>{prefix}</code></td>(.*?)</tr>", page, re.S)
    assert row, page
    assert "posts:write, read" in row.group(1) and "standard" in row.group(1)
    api = console.client.post(
        "/api/v1/posts", json={"title": "t", "content": "c"}, headers={"X-API-Key": secret}
    )
    assert api.status_code == 201
    created_page = console.client.get("/console/keys")
    assert created_page.headers["Cache-Control"] == "no-store"


def test_key_form_offers_only_the_scopes_the_user_may_hold(console: Console) -> None:
    console.user("alice")
    page = text(console.client.get("/console/keys"))
    offered = set(re.findall(r'name="scopes" type="checkbox" value="([^"]+)"', page))
    assert offered == {"read", "posts:write", "comments:write", "keys:write"}
    # Sent anyway, a scope the user lacks is refused, as the API refuses it.
    response = console.submit("/console/keys", {"name": "x", "scopes": ["items:write"]})
    assert response.status_code == 422
    assert errors(response)[""] == ["a key cannot carry rights its owner or creator lacks: items:write"]


def test_key_form_errors_next_to_each_field(console: Console) -> None:
    console.user("alice")
    response = console.submit("/console/keys", {"name": "", "scopes": []})
    assert response.status_code == 422
    found = errors(response)
    assert "at least 1 character" in found["name"][0]
    assert "at least 1 item" in found["scopes"][0]
    assert field_has_error(response, "name")
    past = console.submit(
        "/console/keys", {"name": "old", "scopes": ["read"], "expires_at": "2020-01-01T00:00"}
    )
    assert past.status_code == 422
    assert errors(past)["expires_at"] == ["expires_at must be in the future"]
    garbage = console.submit("/console/keys", {"name": "x", "scopes": ["read"], "expires_at": "soon"})
    assert garbage.status_code == 422 and errors(garbage)["expires_at"]


def test_key_with_an_expiry(console: Console) -> None:
    console.user("alice")
    console.create_key("temp", ("read",), expires_at="2099-05-01T12:30")
    assert "2099-05-01 12:30 UTC" in text(console.client.get("/console/keys"))


def test_revoke_asks_first_then_the_api_refuses_the_key(console: Console) -> None:
    console.user("alice")
    secret = console.create_key("ci", ("read",))
    assert console.client.get("/api/v1/me", headers={"X-API-Key": secret}).status_code == 200
    key_id = console.client.get("/api/v1/api-keys", headers={"X-API-Key": secret}).get_json()["items"][0][
        "id"
    ]
    confirm = console.client.get(f"/console/keys/{key_id}/revoke")
    assert confirm.status_code == 200
    assert "Do you really want to revoke the key" in text(confirm) and ">Revoke<" not in text(confirm)
    assert 'type="submit" value="Revoke"' in text(confirm)
    assert (
        console.client.get("/api/v1/me", headers={"X-API-Key": secret}).status_code == 200
    )  # asking is not doing
    done = console.submit(f"/console/keys/{key_id}/revoke", {})
    assert done.status_code == 303 and done.headers["Location"] == "/console/keys"
    assert console.client.get("/api/v1/me", headers={"X-API-Key": secret}).status_code == 401
    assert "The key is revoked" in text(console.client.get("/console/keys"))


def test_another_users_key_cannot_be_revoked_and_answers_404(console: Console) -> None:
    console.user("alice")
    secret = console.create_key("mine", ("read",))
    key_id = console.client.get("/api/v1/api-keys", headers={"X-API-Key": secret}).get_json()["items"][0][
        "id"
    ]
    bob = Console(console.app).user("bob")
    assert bob.client.get(f"/console/keys/{key_id}/revoke").status_code == 404
    refused = bob.submit(f"/console/keys/{key_id}/revoke", {}, form="/console/keys")
    assert refused.status_code == 404 and refused.mimetype == "text/html"
    assert "404 Not Found" in text(refused) and "API key not found" in text(refused)
    assert console.client.get("/api/v1/me", headers={"X-API-Key": secret}).status_code == 200


def test_usage_shows_each_keys_window_from_the_limiters_storage(make_console: Callable[..., Console]) -> None:
    console = make_console(rate_limit={"enabled": True, "tiers": {"standard": "50/minute", "elevated": ""}})
    console.user("alice")
    secret = console.create_key("ci", ("read",))
    prefix = secret.split("_")[1]

    def row() -> str:
        page = text(console.client.get("/console/usage"))
        found = re.search(rf'<tr data-key="{prefix}">(.*?)</tr>', page, re.S)
        assert found, page
        return found.group(1)

    before = row()
    assert "50 per 60 s" in before and '<td class="remaining">50</td>' in before
    assert "no requests in this window" in before
    for _ in range(3):
        assert console.client.get("/api/v1/posts", headers={"X-API-Key": secret}).status_code == 200
    after = row()
    assert '<td class="remaining">47</td>' in after and "UTC" in after
    # Reading the usage page counts nothing against the key.
    assert '<td class="remaining">47</td>' in row()


def test_console_login_obeys_the_api_login_limits(make_console: Callable[..., Console]) -> None:
    console = make_console(rate_limit={"enabled": True, "login": "3/minute"})
    console.signup("alice")
    # Two API attempts and one console attempt for the same account, from another address...
    api = console.app.test_client()
    for _ in range(2):
        response = api.post(
            "/api/v1/auth/login",
            json={"username": "alice", "password": "wrong-password"},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
        )
        assert response.status_code == 401
    assert console.login("ALICE@example.com", "wrong-password").status_code == 422
    # ...use up the account's limit: the right password is refused too, as an HTML page.
    limited = console.login("alice", PASSWORD)
    assert limited.status_code == 429 and limited.mimetype == "text/html"
    assert "429 Too Many Requests" in text(limited)
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Policy"].startswith('"login";q=3')
    # The per-address limit: this address posted the login form twice; a third attempt for
    # another account is allowed, the fourth is not.
    other = Console(console.app)
    assert other.login("someone-else", "wrong-password").status_code == 422
    assert other.login("someone-else", "wrong-password").status_code == 429
    # Viewing the login page is not a login attempt.
    assert console.client.get("/console/login").status_code == 200
