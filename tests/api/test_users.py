"""Users: registration rules, public vs private fields, listing, admin changes, cascading delete."""

from __future__ import annotations

import models
from tests.support.http import ENVELOPE, PASSWORD, PRIVATE_USER, PUBLIC_USER, assert_problem, count, links

USERS = "/api/v1/users"


def test_register_returns_private_user_with_location(client, app):
    response = client.post(
        "/api/v1/auth/register",
        json={"username": "Alice", "email": "Alice@Example.COM", "password": PASSWORD},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == PRIVATE_USER
    assert body["email"] == "alice@example.com"
    assert body["role"] == "user" and body["bio"] == ""
    assert response.headers["Location"].endswith(f"{USERS}/{body['id']}")
    assert client.get(response.headers["Location"]).status_code == 200


def test_username_and_email_unique_ignoring_case(api, client, app):
    api.register("alice", "alice@example.com")
    for username, email in (("ALICE", "other@example.com"), ("bob", "ALICE@example.com")):
        response = client.post(
            "/api/v1/auth/register", json={"username": username, "email": email, "password": PASSWORD}
        )
        assert_problem(response, 409)
    assert count(app, models.User) == 1


def test_register_validation(client, app):
    bad = [
        ({"username": "ab", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "a" * 33, "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "bad name", "email": "a@example.com", "password": PASSWORD}, "username"),
        ({"username": "abc", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "abc", "email": "a@example.com", "password": "short"}, "password"),
        ({"username": "abc", "email": "a@example.com", "password": "x" * 129}, "password"),
    ]
    for body, field in bad:
        problem = assert_problem(client.post("/api/v1/auth/register", json=body), 422)
        assert ["body", field] in [e["loc"] for e in problem["errors"]], body
    assert count(app, models.User) == 0


def test_public_and_private_fields(api, client):
    alice = api.user("alice")
    bob = api.user("bob")
    admin = api.user("root", admin=True)
    alice_id = client.get("/api/v1/me", headers=alice).get_json()["id"]
    url = f"{USERS}/{alice_id}"
    assert set(client.get(url).get_json()) == PUBLIC_USER
    assert set(client.get(url, headers=bob).get_json()) == PUBLIC_USER
    assert set(client.get(url, headers=alice).get_json()) == PRIVATE_USER
    assert set(client.get(url, headers=admin).get_json()) == PRIVATE_USER
    listed = {u["username"]: u for u in client.get(USERS, headers=alice).get_json()["items"]}
    assert set(listed["alice"]) == PRIVATE_USER
    assert set(listed["bob"]) == PUBLIC_USER
    assert_problem(client.get(f"{USERS}/999999"), 404)


def test_list_pagination_filter_and_sort(api, client):
    for name in ("carol", "dave", "erin", "frank", "carl"):
        api.register(name)
    response = client.get(f"{USERS}?per_page=2&page=2&sort=username")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == ENVELOPE
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 2, 5, 3)
    assert [u["username"] for u in body["items"]] == ["dave", "erin"]
    rels = links(response)
    assert set(rels) == {"first", "prev", "next", "last"}
    assert "page=1" in rels["first"] and "page=3" in rels["last"] and "page=1" in rels["prev"]
    assert "page=3" in rels["next"] and "sort=username" in rels["next"]
    first = client.get(f"{USERS}?per_page=2")
    assert set(links(first)) == {"first", "next", "last"}
    last = client.get(f"{USERS}?per_page=2&page=3")
    assert set(links(last)) == {"first", "prev", "last"}
    past = client.get(f"{USERS}?page=50")
    assert past.status_code == 200 and past.get_json()["items"] == []
    names = [u["username"] for u in client.get(f"{USERS}?q=CAR").get_json()["items"]]
    assert sorted(names) == ["carl", "carol"]
    desc = [u["username"] for u in client.get(f"{USERS}?sort=-username").get_json()["items"]]
    assert desc == sorted(desc, reverse=True)


def test_list_query_errors(client):
    for qs, loc in (
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("sort=email", "sort"),
        ("sort=password_hash", "sort"),
        ("bogus=1", "bogus"),
    ):
        problem = assert_problem(client.get(f"{USERS}?{qs}"), 422)
        assert ["query", loc] in [e["loc"] for e in problem["errors"]], qs


def test_admin_patch_role_and_bio(api, client):
    admin = api.user("root", admin=True)
    bob = api.user("bob")
    bob_id = client.get("/api/v1/me", headers=bob).get_json()["id"]
    assert_problem(client.patch(f"{USERS}/{bob_id}", json={"bio": "x"}), 401)
    assert_problem(client.patch(f"{USERS}/{bob_id}", json={"role": "admin"}, headers=bob), 403)
    assert_problem(client.patch(f"{USERS}/{bob_id}", json={"role": "god"}, headers=admin), 422)
    assert_problem(client.patch(f"{USERS}/999999", json={"bio": "x"}, headers=admin), 404)
    response = client.patch(f"{USERS}/{bob_id}", json={"role": "admin", "bio": "hi"}, headers=admin)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == PRIVATE_USER
    assert (body["role"], body["bio"]) == ("admin", "hi")


def test_delete_cascades_posts_comments_and_keys(api, client, app):
    alice = api.user("alice")
    bob = api.user("bob")
    alice_id = client.get("/api/v1/me", headers=alice).get_json()["id"]
    post = api.post(alice, status="published")
    other = api.post(bob, status="published")
    for target in (post, other):
        url = f"/api/v1/posts/{target['id']}/comments"
        assert client.post(url, json={"content": "hi"}, headers=alice).status_code == 201
    api.key(alice, ["read"])
    assert_problem(client.delete(f"{USERS}/{alice_id}", headers=bob), 403)
    assert_problem(client.delete(f"{USERS}/{alice_id}"), 401)
    assert client.delete(f"{USERS}/{alice_id}", headers=alice).status_code == 204
    assert_problem(client.get(f"{USERS}/{alice_id}"), 404)
    assert_problem(client.get(f"/api/v1/posts/{post['id']}"), 404)
    assert client.get(f"/api/v1/posts/{other['id']}").get_json()["comment_count"] == 0
    assert (count(app, models.Post), count(app, models.Comment), count(app, models.ApiKey)) == (1, 0, 0)
    assert count(app, models.RefreshToken) == 1  # bob's login only


def test_admin_deletes_anyone(api, client):
    admin = api.user("root", admin=True)
    bob = api.register("bob")
    assert client.delete(f"{USERS}/{bob['id']}", headers=admin).status_code == 204
    assert_problem(client.delete(f"{USERS}/{bob['id']}", headers=admin), 404)
