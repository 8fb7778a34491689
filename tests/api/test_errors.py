"""Bad input and the error mapper: 400/404/405/413/415/422/500 as problem+json, nothing written."""

from __future__ import annotations

import pytest

from tests.support.http import PASSWORD, assert_problem, counts

POSTS = "/api/v1/posts"


@pytest.fixture
def alice(api):
    return api.user("alice")


def test_malformed_json_is_400(client, app, alice):
    before = counts(app)
    for raw in ('{"title": "t", "content": ', "{'title': 't'}", "[1, 2", "nul"):
        problem = assert_problem(
            client.post(POSTS, data=raw, content_type="application/json", headers=alice), 400
        )
        assert raw not in problem["detail"]
    assert counts(app) == before


def test_wrong_content_type_is_415(client, app, alice):
    before = counts(app)
    body = '{"title": "t", "content": "c"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        assert_problem(client.post(POSTS, data=body, content_type=content_type, headers=alice), 415)
    assert_problem(client.post(POSTS, data=body, headers=alice), 415)  # no Content-Type at all
    ok = client.post(POSTS, data=body, content_type="application/json; charset=utf-8", headers=alice)
    assert ok.status_code == 201
    assert counts(app)["Post"] == before["Post"] + 1


def test_unknown_fields_and_wrong_types_are_422(client, app, alice):
    before = counts(app)
    cases = [
        ({"title": "t", "content": "c", "author_id": 1}, ["body", "author_id"]),
        ({"title": "t", "content": "c", "published_at": "2020-01-01T00:00:00Z"}, ["body", "published_at"]),
        ({"title": 5, "content": "c"}, ["body", "title"]),
        ({"title": ["t"], "content": "c"}, ["body", "title"]),
        ({"title": "t", "content": None}, ["body", "content"]),
        ({"title": "t", "content": True}, ["body", "content"]),
    ]
    for body, loc in cases:
        problem = assert_problem(client.post(POSTS, json=body, headers=alice), 422)
        assert loc in [e["loc"] for e in problem["errors"]], body
        assert all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])
    for raw in ("[]", '"text"', "42"):
        assert_problem(client.post(POSTS, data=raw, content_type="application/json", headers=alice), 422)
    assert counts(app) == before


def test_oversized_body_is_413(make_app):
    app = make_app(server={"max_body_bytes": 2048})
    client = app.test_client()
    before = counts(app)
    big = {"username": "bigbody", "email": "b@example.com", "password": PASSWORD, "x": "a" * 4096}
    assert_problem(client.post("/api/v1/auth/register", json=big), 413)
    assert counts(app) == before


def test_default_limit_is_one_mebibyte(client, app, alice):
    before = counts(app)
    body = {"title": "t", "content": "c" * (1024 * 1024 + 10)}
    assert_problem(client.post(POSTS, json=body, headers=alice), 413)
    assert counts(app) == before


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE posts; --",
        "1 OR 1=1",
        "Robert'); DELETE FROM users WHERE ('1'='1",
        "emoji 🎉👩‍💻 and RTL \u202eevil\u202c",
        "zero\u200bwidth and combining e\u0301",
        "中文标题 — ünïcödé",
        "<script>alert(1)</script>",
        'back\\slash "quotes" %_ wildcards',
    ],
)
def test_odd_strings_round_trip_verbatim(client, app, alice, text):
    response = client.post(POSTS, json={"title": text, "content": text, "status": "published"}, headers=alice)
    assert response.status_code == 201, response.get_json()
    post = client.get(response.headers["Location"]).get_json()
    assert (post["title"], post["content"]) == (text, text)
    assert client.get(f"{POSTS}?q={text[:10]}").status_code == 200
    assert counts(app)["User"] == 1


def test_strings_the_schema_forbids(client, app):
    for username in ("bob'; --", "bob\u0000", "bób", "b" * 1000):
        body = {"username": username, "email": "b@example.com", "password": PASSWORD}
        assert_problem(client.post("/api/v1/auth/register", json=body), 422)
    assert counts(app)["User"] == 0


def test_unknown_path_and_bad_ids_are_404(client):
    for path in (
        "/api/v1/nope",
        "/api/v1/posts/abc",
        "/api/v1/posts/0",
        "/api/v1/posts/-1",
        "/api/v1/posts/" + "9" * 30,
        "/api/v1/items/" + "9" * 18,
        "/api/v1/users/99999999999",
        "/api/v1/comments/2147483648",
    ):
        assert_problem(client.get(path), 404)


def test_wrong_method_is_405_with_allow(client):
    for method, path, allowed in (
        ("delete", POSTS, {"GET", "POST"}),
        ("put", "/api/v1/auth/login", {"POST"}),
        ("post", "/api/v1/users/1", {"GET", "PATCH", "DELETE"}),
    ):
        response = getattr(client, method)(path)
        assert_problem(response, 405)
        allow = {m.strip() for m in response.headers["Allow"].split(",")}
        assert allowed <= allow and not ({method.upper()} & allow)


def test_unexpected_exception_is_500_without_leaks(client, monkeypatch, alice):
    from services import posts

    def boom(**_kwargs):
        raise RuntimeError("SELECT secret_column FROM users -- password_hash")

    monkeypatch.setattr(posts, "list_posts", boom)
    response = client.get(POSTS, headers=alice)
    problem = assert_problem(response, 500)
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "SELECT", "secret_column", "password_hash", 'File "'):
        assert leak not in text
    assert problem["instance"] == POSTS


def test_validation_errors_never_echo_input(client, app):
    secret = "sh0rt!"
    response = client.post(
        "/api/v1/auth/register", json={"username": "x", "email": "bad", "password": secret}
    )
    problem = assert_problem(response, 422)
    assert secret not in response.get_data(as_text=True)
    assert {tuple(e["loc"]) for e in problem["errors"]} == {
        ("body", "username"),
        ("body", "email"),
        ("body", "password"),
    }
    login = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "Pa55-word-secret"})
    assert "Pa55-word-secret" not in login.get_data(as_text=True)


def test_request_id_echoed_or_replaced(client):
    sane = "req-123_abc.DEF"
    response = client.get("/api/v1/posts", headers={"X-Request-ID": sane})
    assert response.headers["X-Request-ID"] == sane
    problem = assert_problem(client.get("/api/v1/nope", headers={"X-Request-ID": sane}), 404)
    assert problem["request_id"] == sane
    for bad in ("a" * 129, "a" * 200, "has space", "semi;colon", "<script>", "ünï"):
        response = client.get("/api/v1/nope", headers={"X-Request-ID": bad})
        problem = assert_problem(response, 404)
        assert response.headers["X-Request-ID"] != bad and response.headers["X-Request-ID"]
    edge = "b" * 128
    assert client.get("/healthz", headers={"X-Request-ID": edge}).headers["X-Request-ID"] == edge
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert generated and generated != client.get("/healthz").headers["X-Request-ID"]


def test_no_response_ever_contains_a_hash(app, api, client):
    bodies: list[str] = []

    @app.after_request
    def keep(response):  # every response of the flow below, whatever its status
        bodies.append(response.get_data(as_text=True))
        return response

    admin = api.user("root", admin=True)
    alice = api.user("alice")
    pair = api.login("alice")
    client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})  # reuse
    created = client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["read"]}, headers=alice
    ).get_json()
    for headers in (alice, admin, {"X-API-Key": created["key"]}, {}):
        for path in ("/api/v1/me", "/api/v1/users", "/api/v1/api-keys", "/api/v1/api-keys?all=true"):
            client.get(path, headers=headers)
    client.get(f"/api/v1/api-keys/{created['id']}", headers=admin)
    client.patch(f"/api/v1/api-keys/{created['id']}", json={"tier": "elevated"}, headers=admin)
    client.patch(
        "/api/v1/me", json={"password": "another-password", "current_password": PASSWORD}, headers=alice
    )
    client.post(
        "/api/v1/auth/register", json={"username": "alice", "email": "x@example.com", "password": PASSWORD}
    )
    client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong-password"})
    client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=admin)
    from models import ApiKey, RefreshToken, User

    with app.extensions["inkwell"].db.session(write=False) as session:
        hashes = [u.password_hash for u in session.query(User)]
        hashes += [k.secret_hash for k in session.query(ApiKey)]
        hashes += [t.token_hash for t in session.query(RefreshToken)]
    assert len(hashes) >= 7 and len(bodies) > 20
    text = "\n".join(bodies)
    assert "$argon2" not in text
    for secret_hash in hashes:
        assert secret_hash not in text


def test_nul_characters_are_422_on_every_database(api, client, app, alice):
    """PostgreSQL text cannot store NUL; it used to be a 500 there and stored on SQLite."""
    post = api.post(alice, status="published")
    before = counts(app)
    writes = [
        ("post", POSTS, {"title": "a\u0000b", "content": "c"}, ["body", "title"]),
        ("patch", f"{POSTS}/{post['id']}", {"content": "\u0000"}, ["body", "content"]),
        ("post", f"{POSTS}/{post['id']}/comments", {"content": "x\u0000"}, ["body", "content"]),
        ("post", "/api/v1/auth/login", {"username": "a\u0000", "password": "p" * 9}, ["body", "username"]),
        ("patch", "/api/v1/me", {"bio": "\u0000"}, ["body", "bio"]),
    ]
    for method, url, body, loc in writes:
        problem = assert_problem(getattr(client, method)(url, json=body, headers=alice), 422)
        assert loc in [e["loc"] for e in problem["errors"]], url
    for url in (f"{POSTS}?q=%00", "/api/v1/users?q=a%00", "/api/v1/items?q=%00", f"{POSTS}?author=%00x"):
        problem = assert_problem(client.get(url), 422)
        assert problem["errors"][0]["loc"][0] == "query"
    assert counts(app) == before
    assert client.get(f"{POSTS}/{post['id']}").get_json()["content"] == post["content"]


def test_out_of_range_numbers_and_odd_credentials_never_500(api, client, app, alice):
    for url in (
        f"{POSTS}?author_id=99999999999999999999999",
        f"{POSTS}?author_id=0",
        f"{POSTS}?page=10000000000",
    ):
        problem = assert_problem(client.get(url), 422)
        assert problem["errors"][0]["loc"][0] == "query"
    for key in ("iwk_a\u0000b_c", "iwk_\u00e9\u00e9_c", "iwk_" + "a" * 17 + "_x", "iwk_ab_" + "x" * 5000, ""):
        assert_problem(client.get("/api/v1/me", headers={"X-API-Key": key}), 401)
    for value in ("Bearer \u00e9\u00e9", "Bearer " + "a" * 10000, "Bearer e30.e30.e30", "Bearer a\u0000b"):
        assert_problem(client.get("/api/v1/me", headers={"Authorization": value}), 401)
