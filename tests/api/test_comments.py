"""Comments: on visible posts only, oldest first, author edits, author/post author/admin delete."""

from __future__ import annotations

import models
from tests.support.http import COMMENT_KEYS, ENVELOPE, assert_problem, count, links


def comment(client, headers, post_id: int, content: str = "Nice post") -> dict:
    response = client.post(f"/api/v1/posts/{post_id}/comments", json={"content": content}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response


def test_create_shape_location_and_count(api, client):
    alice = api.user("alice")
    bob = api.user("bob")
    post = api.post(alice, status="published")
    response = comment(client, bob, post["id"])
    body = response.get_json()
    assert set(body) == COMMENT_KEYS
    assert body["post_id"] == post["id"] and body["author"]["username"] == "bob"
    assert set(body["author"]) == {"id", "username"}
    assert response.headers["Location"].endswith(f"/api/v1/comments/{body['id']}")
    assert client.get(response.headers["Location"]).get_json() == body
    assert client.get(f"/api/v1/posts/{post['id']}").get_json()["comment_count"] == 1


def test_create_errors_write_nothing(api, client, app):
    alice = api.user("alice")
    bob = api.user("bob")
    post = api.post(alice, status="published")
    draft = api.post(alice)
    url = f"/api/v1/posts/{post['id']}/comments"
    assert_problem(client.post(url, json={"content": "x"}), 401)
    assert_problem(
        client.post(f"/api/v1/posts/{draft['id']}/comments", json={"content": "x"}, headers=bob), 404
    )
    assert_problem(client.post("/api/v1/posts/999999/comments", json={"content": "x"}, headers=bob), 404)
    for body in ({"content": ""}, {"content": "c" * 5001}, {}, {"content": "x", "post_id": 3}):
        assert_problem(client.post(url, json=body, headers=bob), 422)
    assert count(app, models.Comment) == 0
    assert comment(client, bob, post["id"], "c" * 5000).get_json()["content"] == "c" * 5000


def test_list_oldest_first_paginated_and_visibility(api, client):
    alice = api.user("alice")
    bob = api.user("bob")
    post = api.post(alice, status="published")
    draft = api.post(alice)
    for text in ("first", "second", "third"):
        comment(client, bob, post["id"], text)
    comment(client, alice, draft["id"], "private")
    url = f"/api/v1/posts/{post['id']}/comments"
    response = client.get(f"{url}?per_page=2")
    body = response.get_json()
    assert set(body) == ENVELOPE
    assert [c["content"] for c in body["items"]] == ["first", "second"]
    assert (body["total"], body["pages"]) == (3, 2)
    assert set(links(response)) == {"first", "next", "last"}
    desc = client.get(f"{url}?sort=-created_at").get_json()["items"]
    assert [c["content"] for c in desc] == ["third", "second", "first"]
    assert_problem(client.get(f"{url}?sort=content"), 422)
    assert client.get(f"{url}?page=5").get_json()["items"] == []
    draft_url = f"/api/v1/posts/{draft['id']}/comments"
    assert_problem(client.get(draft_url, headers=bob), 404)
    private = client.get(draft_url, headers=alice).get_json()["items"]
    assert [c["content"] for c in private] == ["private"]
    assert_problem(client.get(f"/api/v1/comments/{private[0]['id']}", headers=bob), 404)
    assert_problem(client.get("/api/v1/comments/999999"), 404)


def test_edit_author_or_admin(api, client):
    alice = api.user("alice")
    bob = api.user("bob")
    admin = api.user("root", admin=True)
    post = api.post(alice, status="published")
    created = comment(client, bob, post["id"]).get_json()
    url = f"/api/v1/comments/{created['id']}"
    assert_problem(client.patch(url, json={"content": "hijack"}, headers=alice), 403)
    assert_problem(client.patch(url, json={"content": "x"}), 401)
    assert_problem(client.patch(url, json={"content": ""}, headers=bob), 422)
    assert client.get(url).get_json()["content"] == "Nice post"
    edited = client.patch(url, json={"content": "edited"}, headers=bob)
    assert edited.status_code == 200 and set(edited.get_json()) == COMMENT_KEYS
    assert edited.get_json()["content"] == "edited"
    assert (
        client.patch(url, json={"content": "moderated"}, headers=admin).get_json()["content"] == "moderated"
    )


def test_delete_rules(api, client, app):
    alice = api.user("alice")
    bob = api.user("bob")
    carol = api.user("carol")
    admin = api.user("root", admin=True)
    post = api.post(alice, status="published")
    ids = [comment(client, bob, post["id"]).get_json()["id"] for _ in range(3)]
    assert_problem(client.delete(f"/api/v1/comments/{ids[0]}", headers=carol), 403)
    assert_problem(client.delete(f"/api/v1/comments/{ids[0]}"), 401)
    assert count(app, models.Comment) == 3
    for headers, comment_id in ((bob, ids[0]), (alice, ids[1]), (admin, ids[2])):
        assert client.delete(f"/api/v1/comments/{comment_id}", headers=headers).status_code == 204
    assert_problem(client.delete(f"/api/v1/comments/{ids[0]}", headers=bob), 404)
    assert count(app, models.Comment) == 0


def test_deleting_post_removes_its_comments(api, client, app):
    alice = api.user("alice")
    post = api.post(alice, status="published")
    comment(client, alice, post["id"])
    assert client.delete(f"/api/v1/posts/{post['id']}", headers=alice).status_code == 204
    assert count(app, models.Comment) == 0
