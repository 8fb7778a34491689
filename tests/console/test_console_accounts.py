"""Sign up, log in, log out and the profile, through the console's forms."""

from __future__ import annotations

from flask import Flask

from app import create_app
from core.settings import Settings
from tests.console.conftest import TOKEN, Console, errors, field_has_error, text
from tests.support.http import PASSWORD
from tests.support.services import make_settings


def cookie_header(response) -> str:  # type: ignore[no-untyped-def]
    found = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("inkwell_console=")]
    assert len(found) == 1, response.headers.getlist("Set-Cookie")
    return found[0]


def test_signup_creates_an_account_the_api_logs_in(console: Console) -> None:
    response = console.signup("alice")
    assert response.headers["Location"] == "/console/login"
    assert "Your account is ready" in text(console.client.get("/console/login"))
    api = console.client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert api.status_code == 200


def test_signup_errors_are_the_api_schema_errors_next_to_each_field(console: Console) -> None:
    response = console.submit("/console/signup", {"username": "a!", "email": "nope", "password": "short"})
    assert response.status_code == 422
    found = errors(response)
    assert set(found) == {"username", "email", "password"}
    assert "at least 8 characters" in found["password"][0]
    assert "email" in found["email"][0]
    for field in ("username", "email", "password"):
        assert field_has_error(response, field), field
    # The entered username stays in the form; the password never comes back.
    assert 'value="a!"' in text(response)
    assert 'value="short"' not in text(response)


def test_signup_taken_username_is_a_form_error(console: Console) -> None:
    console.signup("alice")
    response = console.submit(
        "/console/signup", {"username": "ALICE", "email": "other@example.com", "password": PASSWORD}
    )
    assert response.status_code == 422
    assert errors(response)[""] == ["username or email is already taken"]


def test_every_form_refuses_a_post_without_the_csrf_token(console: Console) -> None:
    console.user("alice")
    for path, data in [
        ("/console/signup", {"username": "bob", "email": "bob@example.com", "password": PASSWORD}),
        ("/console/login", {"username": "alice", "password": PASSWORD}),
        ("/console/logout", {}),
        ("/console/profile", {"bio": "x"}),
        ("/console/keys", {"name": "k", "scopes": ["read"]}),
        ("/console/keys/1/revoke", {}),
        ("/console/posts/new", {"title": "t", "content": "c", "status": "draft"}),
        ("/console/posts/1/edit", {"title": "t", "content": "c", "status": "draft"}),
        ("/console/posts/1/publish", {}),
        ("/console/posts/1/delete", {}),
        ("/console/admin/users/1/role", {"role": "admin"}),
        ("/console/admin/items", {"name": "x", "price": "1"}),
    ]:
        for token in (None, "forged"):
            sent = data if token is None else {**data, "csrf_token": token}
            response = console.client.post(path, data=sent)
            assert response.status_code == 400, (path, token, response.status_code)
            assert response.mimetype == "text/html"
            assert "CSRF" in text(response)
    # Nothing happened: bob does not exist, alice is still logged in with no keys.
    assert "bob" not in text(console.client.get("/api/v1/users"))
    assert "No keys yet" in text(console.client.get("/console/keys"))


def test_login_takes_username_or_email_and_rotates_the_session_cookie(console: Console) -> None:
    console.signup("alice")
    before = cookie_header(console.client.get("/console/login"))
    response = console.login("Alice@Example.com")
    assert response.status_code == 303 and response.headers["Location"] == "/console/keys"
    after = cookie_header(response)
    assert after.split(";")[0] != before.split(";")[0]
    flags = {part.strip().lower() for part in after.split(";")[1:]}
    assert {"httponly", "path=/console", "samesite=lax"} <= flags
    assert "secure" not in flags  # development and test serve plain HTTP; production sets it
    page = console.client.get("/console/keys")
    assert page.status_code == 200 and "Log out" in text(page)


def test_login_redirects_back_to_the_page_asked_for_but_never_off_site(console: Console) -> None:
    console.signup("alice")
    asked = console.client.get("/console/usage")
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/console/login?next=")
    response = console.submit(
        "/console/login?next=/console/usage",
        {"username": "alice", "password": PASSWORD},
        form="/console/login",
    )
    assert response.headers["Location"] == "/console/usage"
    console.client.post("/console/logout", data={"csrf_token": console.token("/console/keys")})
    response = console.submit(
        "/console/login?next=//evil.example/x",
        {"username": "alice", "password": PASSWORD},
        form="/console/login",
    )
    assert response.headers["Location"] == "/console/keys"


def test_wrong_password_and_unknown_user_get_the_same_error(console: Console) -> None:
    console.signup("alice")
    wrong = console.login("alice", "wrong-password")
    unknown = console.login("nobody", "wrong-password")
    assert wrong.status_code == unknown.status_code == 422
    assert errors(wrong)[""] == errors(unknown)[""] == ["invalid username or password"]
    empty = console.login("", "")
    assert set(errors(empty)) == {"username", "password"}


def test_logout_ends_the_session_on_the_server(console: Console, app: Flask) -> None:
    console.user("alice")
    stolen = console.client.get_cookie("inkwell_console", path="/console")
    assert stolen is not None
    response = console.client.post("/console/logout", data={"csrf_token": console.token("/console/keys")})
    assert response.status_code == 303 and response.headers["Location"] == "/console/login"
    # The cookie is replaced by one that carries only the goodbye message.
    value = cookie_header(response).split(";")[0].partition("=")[2]
    signer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert set(signer.loads(value)) == {"_flashes"}
    assert "_user_id" in signer.loads(stolen.value)
    # Someone who copied the cookie before the logout cannot use it after.
    other = Console(app)
    other.client.set_cookie("inkwell_console", stolen.value, path="/console")
    replayed = other.client.get("/console/keys")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/console/login")


def test_production_over_https_secure_cookie_and_same_origin_referer(make_app, database_url: str) -> None:  # type: ignore[no-untyped-def]
    make_app()  # a clean database
    settings = make_settings(database_url)
    production = Settings(**{**settings.model_dump(by_alias=True), "env": "production"})
    app = create_app(production)
    try:
        console = Console(app, app.test_client())
        https = {"base_url": "https://console.example"}
        page = console.client.get("/console/signup", **https)
        flags = {part.strip().lower() for part in cookie_header(page).split(";")[1:]}
        assert {"secure", "httponly", "samesite=lax", "path=/console"} <= flags
        # Browsers send a Referer to the same origin only (the policy the pages set), and over
        # HTTPS the CSRF check wants one: without it the form is refused, with it accepted.
        assert page.headers["Referrer-Policy"] == "same-origin"
        token = TOKEN.search(text(page)).group(1)  # type: ignore[union-attr]
        form = {"csrf_token": token, "username": "alice", "email": "alice@example.com", "password": PASSWORD}
        refused = console.client.post("/console/signup", data=form, **https)
        assert refused.status_code == 400 and "referrer" in text(refused).lower()
        done = console.client.post(
            "/console/signup",
            data=form,
            headers={"Referer": "https://console.example/console/signup"},
            **https,
        )
        assert done.status_code == 303
    finally:
        app.extensions["inkwell"].db.dispose()


def test_profile_changes_bio_and_email(console: Console) -> None:
    console.user("alice")
    response = console.submit("/console/profile", {"bio": "Writes things.", "email": "alice@new.example"})
    assert response.status_code == 303
    page = text(console.client.get("/console/profile"))
    assert "Profile saved." in page and "Writes things." in page and 'value="alice@new.example"' in page
    me = console.client.get("/api/v1/users?q=alice").get_json()["items"][0]
    assert me["bio"] == "Writes things."


def test_profile_errors_next_to_the_field(console: Console) -> None:
    console.user("alice")
    console.signup("bob")
    bad = console.submit("/console/profile", {"bio": "", "email": "not-an-email"})
    assert bad.status_code == 422 and field_has_error(bad, "email")
    taken = console.submit("/console/profile", {"bio": "", "email": "bob@example.com"})
    assert taken.status_code == 422 and errors(taken)[""] == ["email is already taken"]
    short = console.submit("/console/profile", {"current_password": PASSWORD, "password": "short"})
    assert short.status_code == 422 and field_has_error(short, "password")
    missing = console.submit("/console/profile", {"password": "a-new-long-password"})
    assert missing.status_code == 422
    assert errors(missing)["current_password"] == ["a new password needs current_password"]


def test_password_change_needs_the_current_password_and_keeps_this_session(console: Console) -> None:
    console.user("alice")
    api_login = console.client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    refresh = api_login.get_json()["refresh_token"]
    bearer = {"Authorization": f"Bearer {api_login.get_json()['access_token']}"}
    for _ in range(2):  # the second time the caller is remembered (web/credentials.py)
        assert console.client.get("/api/v1/me", headers=bearer).status_code == 200
    wrong = console.submit(
        "/console/profile", {"current_password": "not-it-at-all", "password": "new-password-1"}
    )
    assert wrong.status_code == 422 and errors(wrong)[""] == ["current_password is wrong"]
    done = console.submit("/console/profile", {"current_password": PASSWORD, "password": "new-password-1"})
    assert done.status_code == 303
    # This console session goes on; the API login made before the change has ended.
    assert console.client.get("/console/profile").status_code == 200
    assert console.client.get("/api/v1/me", headers=bearer).status_code == 401
    assert console.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).status_code == 401
    assert (
        console.client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "new-password-1"}
        ).status_code
        == 200
    )
