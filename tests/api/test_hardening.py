"""The second outside probe's findings, each through HTTP: password checks counted alike however
they arrive, owners not locked out by someone else's guesses, keys that cannot multiply a budget
or outlive their creator, logout that ends its login, and refreshes that revoke nothing."""

from __future__ import annotations

import stat
from typing import Any

import pytest
from flask import Flask
from pydantic import ValidationError

from app import create_app
from core.settings import Settings
from tests.api.test_auth import claims, forge
from tests.api.test_query_counts import count_queries
from tests.console.conftest import TOKEN, Console
from tests.support.http import PASSWORD, Api, assert_problem
from tests.support.services import make_settings

ATTACKER = {"REMOTE_ADDR": "203.0.113.9"}
OWNER = {"REMOTE_ADDR": "198.51.100.7"}
ME = "/api/v1/me"


def limited(make_app: Any, **limits: str) -> tuple[Flask, Api]:
    app = make_app(
        rate_limit={"enabled": True, "anonymous": "1000/minute", "authenticated": "1000/minute", **limits}
    )
    return app, Api(app.test_client(), app)


def bad_login(api: Api, username: str, environ: dict[str, str]) -> int:
    body = {"username": username, "password": "not-the-password"}
    return api.client.post("/api/v1/auth/login", json=body, environ_base=environ).status_code


def console_token(client: Any, environ: dict[str, str]) -> str:
    page = client.get("/console/login", environ_base=environ)
    found = TOKEN.search(page.get_data(as_text=True))
    assert found, "no CSRF token on the login page"
    return found.group(1)


def test_console_logins_count_against_the_account_however_the_form_is_sent(make_app):
    app, api = limited(make_app, login="3/minute")
    api.register("alice")
    wrong = {"username": "alice", "password": "not-the-password"}
    # Three guesses from three addresses, in three encodings: the account's budget is spent.
    for n, encoding in enumerate(("multipart", "json", "urlencoded")):
        client = app.test_client()
        environ = {"REMOTE_ADDR": f"203.0.113.{n + 1}"}
        token = console_token(client, environ)
        if encoding == "multipart":
            sent = client.post(
                "/console/login",
                data={"csrf_token": token, **wrong},
                content_type="multipart/form-data",
                environ_base=environ,
            )
        elif encoding == "json":
            sent = client.post(
                "/console/login", json=wrong, headers={"X-CSRFToken": token}, environ_base=environ
            )
        else:
            sent = client.post("/console/login", data={"csrf_token": token, **wrong}, environ_base=environ)
        assert sent.status_code == 422, (encoding, sent.status_code)  # the form's "invalid" answer
    # A fourth guess from yet another address is refused: the account's window is full.
    assert bad_login(api, "alice", {"REMOTE_ADDR": "203.0.113.50"}) == 429


def test_an_attacker_spending_the_account_budget_does_not_lock_its_owner_out(make_app):
    _app, api = limited(make_app, login="3/minute")
    api.register("alice")
    first = api.client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}, environ_base=OWNER
    )
    assert first.status_code == 200
    # The owner's login was one of the account's three; the attacker spends the other two.
    assert [bad_login(api, "alice", ATTACKER) for _ in range(3)] == [401, 401, 429]
    # Guessing from elsewhere is still refused for the account...
    assert bad_login(api, "alice", {"REMOTE_ADDR": "203.0.113.10"}) == 429
    # ... but the owner, back where they logged in before, gets in.
    again = api.client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}, environ_base=OWNER
    )
    assert again.status_code == 200, again.get_json()


def test_current_password_on_patch_me_counts_under_the_login_limits(make_app):
    _app, api = limited(make_app, login="3/minute")
    headers = api.user("alice")  # its login counted against this address's login window
    wrong = {"password": "a-new-password-1", "current_password": "not-the-password"}
    statuses = [api.client.patch(ME, json=wrong, headers=headers).status_code for _ in range(3)]
    assert statuses == [403, 403, 429]
    refused = api.client.patch(ME, json=wrong, headers=headers)
    assert_problem(refused, 429)
    assert refused.headers["RateLimit-Policy"] == '"login";q=3;w=60'
    # A change that checks no password is not a login attempt.
    assert api.client.patch(ME, json={"bio": "still here"}, headers=headers).status_code == 200


def test_a_user_holds_at_most_max_per_user_live_keys(make_app):
    app = make_app(api_keys={"max_per_user": 3})
    api = Api(app.test_client(), app)
    headers = api.user("alice")
    created = [
        api.client.post("/api/v1/api-keys", json={"name": f"k{n}", "scopes": ["read"]}, headers=headers)
        for n in range(3)
    ]
    assert [r.status_code for r in created] == [201, 201, 201]
    refused = api.client.post("/api/v1/api-keys", json={"name": "k4", "scopes": ["read"]}, headers=headers)
    body = assert_problem(refused, 422)
    assert "3 live API keys" in body["detail"]
    # A revoked key no longer counts.
    first = created[0].get_json()["id"]
    assert api.client.delete(f"/api/v1/api-keys/{first}", headers=headers).status_code == 204
    again = api.client.post("/api/v1/api-keys", json={"name": "k4", "scopes": ["read"]}, headers=headers)
    assert again.status_code == 201


def test_revoking_a_key_revokes_the_keys_it_made_and_theirs(api, client):
    headers = api.user("alice")
    parent = client.post(
        "/api/v1/api-keys", json={"name": "parent", "scopes": ["read", "keys:write"]}, headers=headers
    ).get_json()
    child = client.post(
        "/api/v1/api-keys",
        json={"name": "child", "scopes": ["read", "keys:write"]},
        headers={"X-API-Key": parent["key"]},
    ).get_json()
    grandchild = client.post(
        "/api/v1/api-keys",
        json={"name": "grandchild", "scopes": ["read"]},
        headers={"X-API-Key": child["key"]},
    ).get_json()
    sibling = api.key(headers, ["read"])  # made by the bearer session: not the parent's
    for key in (parent, child, grandchild):
        assert client.get(ME, headers={"X-API-Key": key["key"]}).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{parent['id']}", headers=headers).status_code == 204
    for key in (parent, child, grandchild):
        assert_problem(client.get(ME, headers={"X-API-Key": key["key"]}), 401)
        assert client.get(f"/api/v1/api-keys/{key['id']}", headers=headers).get_json()["revoked"] is True
    assert client.get(ME, headers=sibling).status_code == 200


def test_logout_is_never_replayed_from_an_idempotency_key(api, client):
    api.register("alice")
    first, second = api.login("alice"), api.login("alice")
    key = {"Idempotency-Key": "logout-1"}
    sent = client.post(
        "/api/v1/auth/logout", headers={**key, "Authorization": f"Bearer {first['access_token']}"}
    )
    assert sent.status_code == 204
    again = client.post(
        "/api/v1/auth/logout", headers={**key, "Authorization": f"Bearer {second['access_token']}"}
    )
    assert again.status_code == 204
    assert "Idempotent-Replayed" not in again.headers
    assert_problem(client.get(ME, headers={"Authorization": f"Bearer {second['access_token']}"}), 401)


def test_a_refresh_that_revokes_nothing_keeps_every_remembered_credential(api, client, app):
    """A cached GET by a remembered bearer runs no SQL. A refresh with garbage revokes nothing, so
    it must not make the process forget who the caller is (one anonymous client could otherwise
    keep every authenticated request on the database)."""
    headers = api.user("alice")
    post = api.post(headers, status="published")
    path = f"/api/v1/posts/{post['id']}"
    assert client.get(path, headers=headers).status_code == 200  # cached, caller remembered
    with count_queries(app) as before:
        assert client.get(path, headers=headers).headers["X-Cache"] == "HIT"
    assert before == []
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": "garbage"}), 401)
    with count_queries(app) as after:
        assert client.get(path, headers=headers).headers["X-Cache"] == "HIT"
    assert after == []
    # A refresh that does revoke (a spent token presented again) still makes it ask again.
    pair = api.login("alice")
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 200
    )
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401)
    with count_queries(app) as revoked:
        assert client.get(path, headers=headers).status_code == 200
    assert len(revoked) >= 1


PUBLISHED = "dev-only-insecure-secret-key-change-me"


def test_the_published_example_secret_is_refused_in_every_profile():
    for env in ("development", "test", "production"):
        with pytest.raises(ValidationError, match="published example"):
            Settings(env=env, auth={"secret_key": PUBLISHED})


def test_with_no_secret_configured_one_is_generated_kept_private_and_reused(database_url, tmp_path, make_app):
    make_app()  # a clean database
    secret_file = tmp_path / "var" / "secret_key"
    settings = make_settings(database_url, auth={"secret_key": "", "secret_key_file": str(secret_file)})
    first = create_app(settings)
    try:
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        generated = first.extensions["inkwell"].settings.auth.secret_key
        assert len(generated) >= 32 and generated != PUBLISHED
        api = Api(first.test_client(), first)
        headers = api.user("alice")
        # A token signed with the published example names user 1 and is refused.
        forged = forge(first, claims(first, 1), key=PUBLISHED)
        assert_problem(first.test_client().get(ME, headers={"Authorization": f"Bearer {forged}"}), 401)
        # The next start (a restart, another worker) reads the same secret: the session lives on.
        second = create_app(settings)
        try:
            assert second.extensions["inkwell"].settings.auth.secret_key == generated
            assert second.test_client().get(ME, headers=headers).status_code == 200
        finally:
            second.extensions["inkwell"].db.dispose()
    finally:
        first.extensions["inkwell"].db.dispose()


def test_a_parameter_given_twice_is_a_422_and_never_shares_a_cache_entry(api, client):
    headers = api.user("alice")
    api.post(headers, status="published")
    api.post(headers, status="draft")
    for query in ("per_page=7&per_page=8", "status=published&status=draft", "status=draft&status=published"):
        body = assert_problem(client.get(f"/api/v1/posts?{query}", headers=headers), 422)
        assert body["errors"][0]["loc"] == ["query", query.split("=")[0]]
        assert body["errors"][0]["type"] == "repeated"
    # The same list spelt two ways is one cache entry, with the same Link.
    first = client.get("/api/v1/posts?per_page=1&sort=-created_at&page=1")
    assert first.headers["X-Cache"] == "MISS"
    second = client.get("/api/v1/posts?page=01&per_page=001")
    assert second.headers["X-Cache"] == "HIT"
    assert second.headers["Link"] == first.headers["Link"]
    assert second.get_data() == first.get_data()


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("password", "most common"),
        ("12345678", "most common"),
        ("        ", "only spaces"),
        ("alice-the-user", "username or email"),
        ("alice-the-user@example.com", "username or email"),
    ],
)
def test_trivially_weak_passwords_are_refused(api, client, password, says):
    username = "alice-the-user"
    body = {"username": username, "email": f"{username}@example.com", "password": password}
    refused = assert_problem(client.post("/api/v1/auth/register", json=body), 422)
    assert refused["errors"][0]["loc"] == ["body", "password"]
    assert says in refused["errors"][0]["msg"]
    headers = api.user("bob")
    change = {"password": password.replace("alice-the-user", "bob"), "current_password": PASSWORD}
    changed = assert_problem(client.patch(ME, json=change, headers=headers), 422)
    assert changed["errors"][0]["loc"] == ["body", "password"]


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_an_expiry_out_of_range_in_utc_is_a_422(api, client, when):
    headers = api.user("alice")
    body = {"name": "k", "scopes": ["read"], "expires_at": when}
    refused = assert_problem(client.post("/api/v1/api-keys", json=body, headers=headers), 422)
    assert refused["errors"][0]["loc"] == ["body", "expires_at"]


def test_the_docs_page_cannot_be_framed_and_loads_only_this_origin(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    policy = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'none'"
    assert "'unsafe-inline'" not in policy["script-src"]
    for directive in ("script-src", "style-src", "img-src", "connect-src"):
        assert "http" not in policy[directive], directive  # nothing from another site


@pytest.mark.parametrize(
    "target", ["/console/%0d%0aSet-Cookie:%20x=1", "/console/keys%00", "/console/\u00e9"]
)
def test_control_characters_in_next_fall_back_to_the_console_home(api, target):
    api.register("alice")
    console = Console(api.app)
    token = console.token("/console/login")
    sent = console.client.post(
        f"/console/login?next={target}", data={"csrf_token": token, "username": "alice", "password": PASSWORD}
    )
    assert sent.status_code == 303
    assert sent.headers["Location"] == "/console/keys"
    assert "x=1" not in " ".join(sent.headers.getlist("Set-Cookie"))


def test_a_demoted_admin_is_never_served_the_admin_view_from_the_cache(api, client):
    author = api.user("author")
    draft = api.post(author, title="Someone's draft", status="draft")
    alice = api.register("alice")
    api.promote(alice["id"])
    alice_headers = {"Authorization": f"Bearer {api.login('alice')['access_token']}"}
    other_admin = api.user("root", admin=True)
    seen = client.get("/api/v1/posts", headers=alice_headers)
    assert [p["id"] for p in seen.get_json()["items"]] == [draft["id"]]  # admins see every draft
    assert client.get(f"/api/v1/posts/{draft['id']}", headers=alice_headers).status_code == 200
    demoted = client.patch(f"/api/v1/users/{alice['id']}", json={"role": "user"}, headers=other_admin)
    assert demoted.status_code == 200
    after = client.get("/api/v1/posts", headers=alice_headers)
    assert after.status_code == 200
    assert after.get_json()["items"] == []
    assert_problem(client.get(f"/api/v1/posts/{draft['id']}", headers=alice_headers), 404)


def test_metrics_need_the_token_when_one_is_set_and_a_burst_of_scrapes_renders_once(make_app):
    app = make_app(metrics={"token": "scrape-token-0123456789", "min_interval_seconds": 60})
    client = app.test_client()
    assert_problem(client.get("/metrics"), 401)
    assert_problem(client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
    scrape = {"Authorization": "Bearer scrape-token-0123456789"}
    first = client.get("/metrics", headers=scrape)
    assert first.status_code == 200 and b"inkwell_http_requests_total" in first.get_data()
    for _ in range(5):
        client.get("/api/v1/items")
    # Within the interval a scrape is the text already rendered, whatever happened since.
    assert client.get("/metrics", headers=scrape).get_data() == first.get_data()


def test_production_serves_metrics_only_with_a_token(make_app, database_url):
    make_app()  # a clean database
    settings = make_settings(database_url)
    production = Settings(**{**settings.model_dump(by_alias=True), "env": "production"})
    app = create_app(production)
    try:
        assert_problem(app.test_client().get("/metrics"), 404)
    finally:
        app.extensions["inkwell"].db.dispose()


def test_a_draft_slug_is_not_discoverable_by_someone_who_cannot_see_the_draft(api, client):
    alice, bob, carol = api.user("alice"), api.user("bob"), api.user("carol")
    secret = api.post(alice, title="Secret plan", status="draft")
    assert secret["slug"] == "secret-plan"
    # Bob cannot see Alice's draft: its slug is neither a 409 nor a "-2" for him.
    generated = api.post(bob, title="Secret plan", status="draft")
    assert generated["slug"] == "secret-plan"
    explicit = client.post(
        "/api/v1/posts", json={"title": "t", "content": "c", "slug": "launch-date"}, headers=bob
    )
    assert explicit.status_code == 201
    # Slugs the caller can see still conflict: their own, and published ones.
    taken = {"title": "t", "content": "c", "slug": "secret-plan"}
    assert_problem(client.post("/api/v1/posts", json=taken, headers=bob), 409)
    published = client.patch(f"/api/v1/posts/{generated['id']}", json={"status": "published"}, headers=bob)
    assert published.status_code == 200
    assert_problem(client.post("/api/v1/posts", json=taken, headers=carol), 409)
    # An admin sees every draft, so every draft's slug is one they can see.
    root = api.user("root", admin=True)
    assert_problem(client.post("/api/v1/posts", json={**taken, "slug": "launch-date"}, headers=root), 409)
    assert api.post(carol, title="Secret plan")["slug"] == "secret-plan-2"
    # Alice's draft now meets a published post with its slug: publishing it asks for another.
    publish = {"status": "published"}
    assert_problem(client.patch(f"/api/v1/posts/{secret['id']}", json=publish, headers=alice), 409)
    renamed = client.patch(
        f"/api/v1/posts/{secret['id']}",
        json={"status": "published", "slug": "secret-plan-alice"},
        headers=alice,
    )
    assert renamed.status_code == 200 and renamed.get_json()["slug"] == "secret-plan-alice"
