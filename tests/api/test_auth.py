"""Issue 3 auth: login, the JWT attack matrix, refresh rotation and reuse, logout, password change."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

import models
from tests.support.http import PASSWORD, PRIVATE_USER, assert_problem, bearer, count

ME = "/api/v1/me"


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(app, user_id: int, **over) -> dict:
    auth = app.extensions["inkwell"].settings.auth
    now = int(time.time())
    base = {
        "iss": auth.issuer,
        "aud": auth.audience,
        "sub": str(user_id),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j" * 22,
    }
    return {k: v for k, v in {**base, **over}.items() if v is not None}


def forge(app, payload: dict, *, key: str | None = None, headers: dict | None = None) -> str:
    secret = key or app.extensions["inkwell"].settings.auth.secret_key
    return jwt.encode(payload, secret, algorithm="HS256", headers={"typ": "at+jwt", **(headers or {})})


def test_login_shape_and_same_401_for_unknown_user(api, client):
    api.register("alice")
    pair = api.login("alice")
    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    assert api.login("alice@example.com")["access_token"]
    wrong = assert_problem(
        client.post("/api/v1/auth/login", json={"username": "alice", "password": "x" * 9}), 401
    )
    unknown = assert_problem(
        client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 9}), 401
    )
    assert (wrong["title"], wrong["detail"]) == (unknown["title"], unknown["detail"])


def test_forged_token_sanity_check_is_accepted(api, client, app):
    """The matrix below means something only if a correctly forged token passes."""
    uid = api.register("alice")["id"]
    assert client.get(ME, headers=bearer(forge(app, claims(app, uid)))).status_code == 200


@pytest.mark.parametrize(
    "attack",
    [
        "alg_none",
        "other_secret",
        "rs256_header",
        "expired",
        "nbf_future",
        "iat_future",
        "wrong_iss",
        "wrong_aud",
        "missing_typ",
        "wrong_typ",
        "refresh_as_access",
        "malformed_base64",
        "garbage",
        "missing_sub",
        "huge_sub",
        "deleted_user",
    ],
)
def test_jwt_attack_matrix(attack, api, client, app):
    user = api.register("alice")
    uid = user["id"]
    now = int(time.time())
    good = claims(app, uid)
    if attack == "alg_none":
        token = f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(good)}."
    elif attack == "other_secret":
        token = forge(app, good, key="another-secret-that-is-long-enough-for-hs256")
    elif attack == "rs256_header":
        token = f"{b64({'alg': 'RS256', 'typ': 'at+jwt'})}.{b64(good)}.{b64({'junk': 1})}"
    elif attack == "expired":
        token = forge(app, claims(app, uid, iat=now - 4000, nbf=now - 4000, exp=now - 3000))
    elif attack == "nbf_future":
        token = forge(app, claims(app, uid, nbf=now + 3600))
    elif attack == "iat_future":
        token = forge(app, claims(app, uid, iat=now + 3600, nbf=now - 10))
    elif attack == "wrong_iss":
        token = forge(app, claims(app, uid, iss="evil"))
    elif attack == "wrong_aud":
        token = forge(app, claims(app, uid, aud="other-api"))
    elif attack == "missing_typ":
        token = jwt.encode(good, app.extensions["inkwell"].settings.auth.secret_key, algorithm="HS256")
    elif attack == "wrong_typ":
        token = forge(app, good, headers={"typ": "refresh+jwt"})
    elif attack == "refresh_as_access":
        token = api.login("alice")["refresh_token"]
    elif attack == "malformed_base64":
        token = "%%%.@@@.!!!"
    elif attack == "garbage":
        token = "not-a-jwt"
    elif attack == "missing_sub":
        token = forge(app, claims(app, uid, sub=None))
    elif attack == "huge_sub":  # signed, but names no possible row (and would overflow the column)
        token = forge(app, claims(app, uid, sub="99999999999999999999"))
    else:  # deleted_user
        headers = bearer(api.login("alice")["access_token"])
        assert client.delete(f"/api/v1/users/{uid}", headers=headers).status_code == 204
        token = headers["Authorization"].split()[1]
    assert_problem(client.get(ME, headers=bearer(token)), 401)
    # A bad credential is refused even on a public endpoint, and writes nothing.
    before = count(app, models.Post)
    assert_problem(
        client.post("/api/v1/posts", json={"title": "t", "content": "c"}, headers=bearer(token)), 401
    )
    assert count(app, models.Post) == before


def test_bad_authorization_headers(client):
    for value in ("Basic abc", "Bearer", "Bearer   ", "token"):
        assert_problem(client.get(ME, headers={"Authorization": value}), 401)


def test_both_credentials_at_once_is_400(api, client):
    headers = api.user("alice")
    key = api.key(headers, ["read"])
    assert_problem(client.get(ME, headers={**headers, **key}), 400)


def test_access_token_not_accepted_as_refresh(api, client):
    api.register("alice")
    pair = api.login("alice")
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]}), 401)


def test_refresh_rotation_and_reuse_revokes_family(api, client):
    api.register("alice")
    first = api.login("alice")
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.get_json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get(ME, headers=bearer(second["access_token"])).status_code == 200
    # The spent token again: 401, and the whole family (newest refresh and its access token) ends.
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    assert_problem(client.get(ME, headers=bearer(second["access_token"])), 401)
    assert_problem(client.get(ME, headers=bearer(first["access_token"])), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401)
    # Another login of the same user is a different family and keeps working.
    other = api.login("alice")
    assert client.get(ME, headers=bearer(other["access_token"])).status_code == 200


def test_refresh_errors(client):
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={}), 422)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": 5}), 422)


def test_refresh_token_expires(make_app, clock):
    app = make_app(auth={"refresh_ttl_seconds": 60})
    client = app.test_client()
    client.post(
        "/api/v1/auth/register", json={"username": "alice", "email": "a@example.com", "password": PASSWORD}
    )
    pair = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).get_json()
    clock.advance(59)  # still inside its 60 s
    fresh = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert fresh.status_code == 200
    clock.advance(61)  # the new one, never used, is past its 60 s
    expired = client.post("/api/v1/auth/refresh", json={"refresh_token": fresh.get_json()["refresh_token"]})
    assert_problem(expired, 401)


def test_logout_denies_access_and_refresh_family(api, client):
    api.register("alice")
    pair = api.login("alice")
    headers = bearer(pair["access_token"])
    assert_problem(client.post("/api/v1/auth/logout"), 401)
    response = client.post(
        "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}, headers=headers
    )
    assert response.status_code == 204 and response.data == b""
    assert_problem(client.get(ME, headers=headers), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401)


def test_logout_without_body_ends_the_login_of_its_access_token(api, client):
    """The access token names its login: logging out with it ends that login's refresh token too,
    and leaves the user's other logins alone."""
    api.register("alice")
    pair = api.login("alice")
    other = api.login("alice")
    assert client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    assert_problem(client.get(ME, headers=bearer(pair["access_token"])), 401)
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}), 401)
    assert client.get(ME, headers=bearer(other["access_token"])).status_code == 200
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}).status_code == 200
    )


def test_me_get_and_patch(api, client, app):
    headers = api.user("alice")
    api.register("bob")
    body = client.get(ME, headers=headers).get_json()
    assert set(body) == PRIVATE_USER
    response = client.patch(ME, json={"bio": "hello", "email": "NEW@Example.com"}, headers=headers)
    assert response.status_code == 200
    assert (response.get_json()["bio"], response.get_json()["email"]) == ("hello", "new@example.com")
    assert_problem(client.patch(ME, json={"email": "BOB@example.com"}, headers=headers), 409)
    assert_problem(client.patch(ME, json={"role": "admin"}, headers=headers), 422)
    assert_problem(client.patch(ME, json={"bio": "x"}), 401)
    assert client.get(ME, headers=headers).get_json()["email"] == "new@example.com"


def test_password_change(api, client):
    api.register("alice")
    current = api.login("alice")
    other = api.login("alice")
    headers = bearer(current["access_token"])
    new = "a-brand-new-password"
    assert_problem(
        client.patch(ME, json={"password": new, "current_password": "wrong-password"}, headers=headers), 403
    )
    # Missing is a validation error naming the field; wrong is 403.
    missing = assert_problem(client.patch(ME, json={"password": new}, headers=headers), 422)
    assert missing["errors"][0]["loc"] == ["body", "current_password"]
    response = client.patch(ME, json={"password": new, "current_password": PASSWORD}, headers=headers)
    assert response.status_code == 200
    # The other session is over; this one keeps working.
    assert_problem(client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}), 401)
    assert_problem(client.get(ME, headers=bearer(other["access_token"])), 401)
    assert client.get(ME, headers=headers).status_code == 200
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": current["refresh_token"]}).status_code
        == 200
    )
    assert_problem(client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}), 401)
    assert api.login("alice", password=new)["access_token"]


def test_access_token_leeway_is_configured_and_defaults_to_5_seconds(api, client, app):
    uid = api.register("alice")["id"]
    now = int(time.time())
    assert app.extensions["inkwell"].settings.auth.leeway_seconds == 5
    expired_10s_ago = forge(app, claims(app, uid, iat=now - 900, nbf=now - 900, exp=now - 10))
    expired_2s_ago = forge(app, claims(app, uid, iat=now - 900, nbf=now - 900, exp=now - 2))
    assert_problem(client.get(ME, headers=bearer(expired_10s_ago)), 401)
    assert client.get(ME, headers=bearer(expired_2s_ago)).status_code == 200


def test_access_token_dies_at_exp_without_leeway(api, make_app):
    strict = make_app(auth={"leeway_seconds": 0})
    client = strict.test_client()
    uid = api.register("alice")["id"]
    now = int(time.time())
    expired_1s_ago = forge(strict, claims(strict, uid, iat=now - 900, nbf=now - 900, exp=now - 1))
    issued_2s_ahead = forge(strict, claims(strict, uid, iat=now + 2, nbf=now - 10))
    assert_problem(client.get(ME, headers=bearer(expired_1s_ago)), 401)
    assert_problem(client.get(ME, headers=bearer(issued_2s_ahead)), 401)
    assert client.get(ME, headers=bearer(forge(strict, claims(strict, uid)))).status_code == 200


def test_logout_denies_a_token_for_as_long_as_the_leeway_accepts_it(api, client, app):
    uid = api.register("alice")["id"]
    now = int(time.time())
    # Past its exp, but within the 5 s leeway: still a credential, so logout must outlast it.
    headers = bearer(forge(app, claims(app, uid, iat=now - 900, nbf=now - 900, exp=now - 2)))
    assert client.get(ME, headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert_problem(client.get(ME, headers=headers), 401)
