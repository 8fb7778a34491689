"""API keys: secret shown once, scopes allow/deny, owner narrowing, revoke, expiry, tiers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import models
from tests.support.http import KEY_KEYS, PASSWORD, assert_problem, count

KEYS = "/api/v1/api-keys"


def create(client, headers, scopes, **extra):
    response = client.post(KEYS, json={"name": "ci", "scopes": scopes, **extra}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_secret_shown_once(api, client):
    alice = api.user("alice")
    created = create(client, alice, ["read"])
    assert set(created) == KEY_KEYS | {"key"}
    assert created["key"].startswith(f"iwk_{created['prefix']}_") and len(created["key"]) > 40
    assert (created["tier"], created["revoked"], created["last_used_at"]) == ("standard", False, None)
    listed = client.get(KEYS, headers=alice)
    assert [set(k) for k in listed.get_json()["items"]] == [KEY_KEYS]
    detail = client.get(f"{KEYS}/{created['id']}", headers=alice)
    assert set(detail.get_json()) == KEY_KEYS
    for response in (listed, detail):
        assert created["key"] not in response.get_data(as_text=True)


def test_key_authenticates_and_last_used_at(api, client):
    alice = api.user("alice")
    created = create(client, alice, ["read"])
    me = client.get("/api/v1/me", headers={"X-API-Key": created["key"]})
    assert me.status_code == 200 and me.get_json()["username"] == "alice"
    listed = client.get(KEYS, headers=alice).get_json()["items"]
    assert listed[0]["last_used_at"] is not None


def test_each_scope_allows_and_denies(api, client):
    admin = api.user("root", admin=True)
    post = api.post(admin, status="published")
    keys = {
        scope: {"X-API-Key": create(client, admin, [scope])["key"]}
        for scope in ("read", "posts:write", "comments:write", "items:write", "keys:write")
    }
    writes = {
        "posts:write": lambda h: client.post("/api/v1/posts", json={"title": "t", "content": "c"}, headers=h),
        "comments:write": lambda h: client.post(
            f"/api/v1/posts/{post['id']}/comments", json={"content": "c"}, headers=h
        ),
        "items:write": lambda h: client.post("/api/v1/items", json={"name": "n", "price": 1}, headers=h),
        "keys:write": lambda h: client.post(KEYS, json={"name": "n", "scopes": ["keys:write"]}, headers=h),
    }
    for scope, headers in keys.items():
        for write_scope, call in writes.items():
            response = call(headers)
            if scope == write_scope:
                assert response.status_code == 201, (scope, response.get_json())
            else:
                assert_problem(response, 403)
        read = client.get("/api/v1/me", headers=headers)
        if scope == "read":
            assert read.status_code == 200
        else:
            assert_problem(read, 403)
            assert_problem(client.get("/api/v1/posts", headers=headers), 403)


def test_owner_narrowing_and_demotion(api, client, app):
    user = api.user("bob")
    assert_problem(client.post(KEYS, json={"name": "x", "scopes": ["items:write"]}, headers=user), 403)
    admin = api.user("root", admin=True)
    admin_id = client.get("/api/v1/me", headers=admin).get_json()["id"]
    key = {"X-API-Key": create(client, admin, ["items:write"])["key"]}
    assert client.post("/api/v1/items", json={"name": "a", "price": 1}, headers=key).status_code == 201
    # A key can only mint keys with rights it holds itself.
    narrow = {"X-API-Key": create(client, admin, ["keys:write"])["key"]}
    assert_problem(client.post(KEYS, json={"name": "x", "scopes": ["items:write"]}, headers=narrow), 403)
    other = api.user("root2", admin=True)
    assert client.patch(f"/api/v1/users/{admin_id}", json={"role": "user"}, headers=other).status_code == 200
    assert_problem(client.post("/api/v1/items", json={"name": "b", "price": 1}, headers=key), 403)
    assert count(app, models.Item) == 1


def test_revoke_and_expiry(api, client, clock):
    alice = api.user("alice")
    bob = api.user("bob")
    created = create(client, alice, ["read", "keys:write"])
    key = {"X-API-Key": created["key"]}
    assert_problem(client.delete(f"{KEYS}/{created['id']}", headers=bob), 404)
    assert_problem(client.delete(f"{KEYS}/{created['id']}"), 401)
    assert client.get("/api/v1/me", headers=key).status_code == 200
    assert client.delete(f"{KEYS}/{created['id']}", headers=alice).status_code == 204
    assert_problem(client.get("/api/v1/me", headers=key), 401)
    assert_problem(client.get("/api/v1/posts", headers=key), 401)
    assert client.get(f"{KEYS}/{created['id']}", headers=alice).get_json()["revoked"] is True
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    expiring = create(client, alice, ["read"], expires_at=soon)
    assert expiring["expires_at"] is not None
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert_problem(
        client.post(KEYS, json={"name": "x", "scopes": ["read"], "expires_at": past}, headers=alice), 422
    )
    assert client.get("/api/v1/me", headers={"X-API-Key": expiring["key"]}).status_code == 200
    clock.advance(3601)  # past the expiry: a remembered key is checked against the same clock
    assert_problem(client.get("/api/v1/me", headers={"X-API-Key": expiring["key"]}), 401)
    for bad in ("iwk_nope_nope", "garbage", "iwk_" + expiring["prefix"] + "_wrong"):
        assert_problem(client.get("/api/v1/me", headers={"X-API-Key": bad}), 401)


def test_tier_change_admin_only(api, client):
    alice = api.user("alice")
    admin = api.user("root", admin=True)
    created = create(client, alice, ["read"])
    url = f"{KEYS}/{created['id']}"
    assert_problem(client.patch(url, json={"tier": "elevated"}, headers=alice), 403)
    problem = assert_problem(client.patch(url, json={"tier": "platinum"}, headers=admin), 422)
    assert problem["errors"][0]["loc"] == ["body", "tier"]
    response = client.patch(url, json={"tier": "elevated"}, headers=admin)
    assert response.status_code == 200 and set(response.get_json()) == KEY_KEYS
    assert client.get(url, headers=alice).get_json()["tier"] == "elevated"
    assert_problem(client.patch(f"{KEYS}/999999", json={"tier": "elevated"}, headers=admin), 404)


def test_list_own_and_all(api, client):
    alice = api.user("alice")
    bob = api.user("bob")
    admin = api.user("root", admin=True)
    create(client, alice, ["read"])
    bob_key = create(client, bob, ["read"])
    assert client.get(KEYS, headers=alice).get_json()["total"] == 1
    assert_problem(client.get(f"{KEYS}?all=true", headers=alice), 403)
    assert_problem(client.get(f"{KEYS}/{bob_key['id']}", headers=alice), 404)
    assert client.get(f"{KEYS}?all=true", headers=admin).get_json()["total"] == 2
    assert client.get(KEYS, headers=admin).get_json()["total"] == 0
    assert_problem(client.get(KEYS), 401)


def test_create_validation(api, client, app):
    alice = api.user("alice")
    for body in (
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["admin"]},
        {"name": "", "scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "tier": "elevated"},
        {"name": "x", "scopes": "read"},
    ):
        assert_problem(client.post(KEYS, json=body, headers=alice), 422)
    assert count(app, models.ApiKey) == 0


def test_key_may_edit_profile_but_never_take_over_the_account(api, client):
    headers = api.user("owner")
    read_only = api.key(headers, ["read"])
    writer = api.key(headers, ["read", "posts:write"])
    assert_problem(client.patch("/api/v1/me", json={"bio": "x"}, headers=read_only), 403)
    assert (
        client.patch("/api/v1/me", json={"bio": "from a key"}, headers=writer).get_json()["bio"]
        == "from a key"
    )
    assert_problem(client.patch("/api/v1/me", json={"email": "new@example.com"}, headers=writer), 403)
    change = {"password": "another-password-1", "current_password": PASSWORD}
    assert_problem(client.patch("/api/v1/me", json=change, headers=writer), 403)
    assert client.get("/api/v1/me", headers=headers).get_json()["email"] == "owner@example.com"


def test_logout_with_an_api_key_is_forbidden(api, client):
    # Logout is declared bearer-only: a valid key is an authenticated caller without the right.
    key = api.key(api.user("owner"), ["read"])
    assert_problem(client.post("/api/v1/auth/logout", headers=key), 403)
    assert client.get("/api/v1/me", headers=key).status_code == 200


def test_expires_at_needs_an_offset(api, client):
    headers = api.user("owner")
    body = {"name": "k", "scopes": ["read"], "expires_at": "2030-01-01T00:00:00"}
    problem = assert_problem(client.post("/api/v1/api-keys", json=body, headers=headers), 422)
    assert problem["errors"][0]["loc"] == ["body", "expires_at"]
    assert client.get("/api/v1/api-keys", headers=headers).get_json()["total"] == 0


def test_key_writes_honour_if_match(api, client):
    admin = api.user("boss", admin=True)
    created = client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["read"]}, headers=admin
    ).get_json()
    url = f"/api/v1/api-keys/{created['id']}"
    stale = {**admin, "If-Match": '"stale"'}
    assert_problem(client.patch(url, json={"tier": "elevated"}, headers=stale), 412)
    assert_problem(client.delete(url, headers=stale), 412)
    assert client.get(url, headers=admin).get_json()["tier"] == "standard"
    current = {**admin, "If-Match": client.get(url, headers=admin).headers["ETag"]}
    assert client.patch(url, json={"tier": "elevated"}, headers=current).get_json()["tier"] == "elevated"


def test_a_key_created_by_a_key_never_outlives_it(api, client):
    alice = api.user("alice")
    parent_expiry = datetime.now(UTC) + timedelta(minutes=5)
    parent = {
        "X-API-Key": create(client, alice, ["read", "keys:write"], expires_at=parent_expiry.isoformat())[
            "key"
        ]
    }
    # No expiry asked: the new key expires with the key that made it.
    child = create(client, parent, ["read"])
    assert datetime.fromisoformat(child["expires_at"]) == parent_expiry
    # A later expiry, asked outright, is refused; the same or an earlier one is granted.
    later = (parent_expiry + timedelta(seconds=1)).isoformat()
    problem = assert_problem(
        client.post(KEYS, json={"name": "x", "scopes": ["read"], "expires_at": later}, headers=parent), 422
    )
    assert [e["loc"] for e in problem["errors"]] == [["body", "expires_at"]]
    same = create(client, parent, ["read"], expires_at=parent_expiry.isoformat())
    assert datetime.fromisoformat(same["expires_at"]) == parent_expiry
    sooner = parent_expiry - timedelta(minutes=1)
    assert (
        datetime.fromisoformat(create(client, parent, ["read"], expires_at=sooner.isoformat())["expires_at"])
        == sooner
    )
    assert len(client.get(KEYS, headers=alice).get_json()["items"]) == 4
    # Keys made with a bearer token, or by a key without an expiry, still need none.
    forever = {"X-API-Key": create(client, alice, ["read", "keys:write"])["key"]}
    assert create(client, forever, ["read"])["expires_at"] is None
