"""Cursors and sync (contract section 7): next_cursor on every list, keyset pages bound to their
list, filters and sort, stable under writes; updated_since and sort=updated_at."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.http import ENVELOPE, assert_problem, links

POSTS = "/api/v1/posts"
ITEMS = "/api/v1/items"
USERS = "/api/v1/users"


def get_page(client, url, headers=None, **query):
    response = client.get(url, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) >= ENVELOPE
    return response, body


def walk(client, url, headers=None, between=None, **query):
    """Every page from the first to next_cursor null; `between(n)` runs after page n."""
    seen, pages = [], 0
    response, body = get_page(client, url, headers, **query)
    while True:
        seen.extend(body["items"])
        pages += 1
        if between is not None:
            between(pages)
        if body["next_cursor"] is None:
            assert "next" not in links(response)
            return seen, pages
        cursor = body["next_cursor"]
        if body["page"] is None:  # in cursor mode, the Link header's next is the same cursor
            next_link = parse_qs(urlsplit(links(response)["next"]).query)
            assert next_link["cursor"] == [cursor]
            assert next_link["per_page"] == [str(query.get("per_page", 20))]
        response, body = get_page(client, url, headers, cursor=cursor, per_page=query.get("per_page", 20))
        assert body["page"] is None and body["pages"] is None
        assert set(links(response)) <= {"first", "next"} and "first" in links(response)


def published(api, headers, n, **fields):
    return [api.post(headers, title=f"post {i:02}", status="published", **fields) for i in range(n)]


def test_walk_returns_every_row_once_in_order(api, client):
    alice = api.user("alice")
    made = published(api, alice, 7)
    rows, pages = walk(client, POSTS, per_page=3)
    assert [r["id"] for r in rows] == [p["id"] for p in reversed(made)]  # -created_at
    assert pages == 3
    _, body = get_page(client, POSTS, per_page=3)
    assert body["page"] == 1 and body["pages"] == 3 and body["total"] == 7
    # In cursor mode the total is still the list's.
    _, second = get_page(client, POSTS, cursor=body["next_cursor"], per_page=3)
    assert second["total"] == 7 and [r["id"] for r in second["items"]] == [r["id"] for r in rows[3:6]]
    # An offset page also gives the cursor after its last row.
    _, page_two = get_page(client, POSTS, page=2, per_page=3)
    _, after_two = get_page(client, POSTS, cursor=page_two["next_cursor"], per_page=3)
    assert [r["id"] for r in after_two["items"]] == [rows[6]["id"]]
    assert after_two["next_cursor"] is None


SORTS = ["created_at", "-created_at", "title", "-title", "updated_at", "-updated_at"]


@pytest.mark.parametrize("sort", SORTS)
def test_walk_is_stable_under_writes(api, client, sort):
    """Rows created, changed (not in their sort key) or deleted meanwhile: every row that was
    there at the start and still matches at the end comes exactly once, in order."""
    alice = api.user("alice")
    made = published(api, alice, 9)
    by_id = {p["id"]: p for p in made}
    deleted, retitled = made[4]["id"], made[7]["id"]

    def writes(page: int) -> None:
        if page == 1:
            published(api, alice, 2)  # before and after the position, by sort
            assert client.delete(f"{POSTS}/{deleted}", headers=alice).status_code == 204
            if sort.lstrip("-") != "updated_at":  # an edit moves a row in that order
                patched = client.patch(f"{POSTS}/{retitled}", json={"content": "new"}, headers=alice)
                assert patched.status_code == 200

    rows, _ = walk(client, POSTS, between=writes, per_page=2, sort=sort, author="alice")
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "a row came twice"
    kept = [i for i in by_id if i != deleted]
    assert set(kept) <= set(ids)
    assert deleted not in ids
    keys = [(r[sort.lstrip("-")], r["id"]) for r in rows]
    assert keys == sorted(keys, reverse=sort.startswith("-"))


def test_nullable_sort_key_walks_through_the_nulls(api, client):
    """published_at is NULL for drafts, which sort last both ways: an admin's walk reaches them."""
    root = api.user("root", admin=True)
    alice = api.user("alice")
    drafts = [api.post(alice, title=f"draft {i}") for i in range(3)]
    public = published(api, alice, 3)
    for sort in ("published_at", "-published_at"):
        rows, _ = walk(client, POSTS, headers=root, per_page=2, sort=sort)
        ids = [r["id"] for r in rows]
        expected = [p["id"] for p in (public if sort == "published_at" else reversed(public))]
        assert ids == expected + [d["id"] for d in (drafts if sort == "published_at" else reversed(drafts))]


def test_every_list_takes_a_cursor(api, client):
    root = api.user("root", admin=True)
    for price in ("3.00", "1.50", "1.50", "20.00", "0.99"):
        made = client.post(ITEMS, json={"name": f"item {price}", "price": price}, headers=root)
        assert made.status_code == 201
    rows, _ = walk(client, ITEMS, per_page=2, sort="-price")
    assert [r["price"] for r in rows] == ["20.00", "3.00", "1.50", "1.50", "0.99"]

    for name in ("Zed", "amy", "Bob"):
        api.register(name)
    rows, _ = walk(client, USERS, per_page=2, sort="username")
    assert [r["username"] for r in rows] == ["amy", "Bob", "root", "Zed"]

    post = api.post(root, status="published")
    comments = f"{POSTS}/{post['id']}/comments"
    for n in range(5):
        assert client.post(comments, json={"content": f"c{n}"}, headers=root).status_code == 201
    rows, _ = walk(client, comments, per_page=2)
    assert [r["content"] for r in rows] == [f"c{n}" for n in range(5)]

    for _ in range(3):
        api.key(root, ["read"])
    rows, _ = walk(client, "/api/v1/api-keys", headers=root, per_page=2)
    assert len(rows) == 3 and len({r["id"] for r in rows}) == 3


def test_a_cursor_holds_its_filters_and_sort(api, client):
    alice, bob = api.user("alice"), api.user("bob")
    published(api, alice, 3)
    published(api, bob, 3)
    _, body = get_page(client, POSTS, per_page=1, author="alice", sort="title")
    cursor = body["next_cursor"]
    # Left out, the cursor's filters and sort apply; repeated, they must be the same.
    _, left_out = get_page(client, POSTS, cursor=cursor, per_page=1)
    _, repeated = get_page(client, POSTS, cursor=cursor, per_page=1, author="alice", sort="title")
    assert left_out["items"] == repeated["items"]
    (row,) = left_out["items"]
    assert row["title"] == "post 01" and row["author"]["username"] == "alice"
    # per_page may change.
    _, wider = get_page(client, POSTS, cursor=cursor, per_page=5)
    assert [r["title"] for r in wider["items"]] == ["post 01", "post 02"]
    # The Link header's first page carries the cursor's filters, not the request's spelling.
    first = parse_qs(urlsplit(links(client.get(POSTS, query_string={"cursor": cursor}))["first"]).query)
    assert first["author"] == ["alice"] and first["sort"] == ["title"]


def cursor_error(response):
    body = assert_problem(response, 422)
    assert [e["loc"] for e in body["errors"]] == [["query", "cursor"]], body
    return body


def test_bad_cursors_are_422_on_query_cursor(api, client):
    alice = api.user("alice")
    published(api, alice, 3)
    _, body = get_page(client, POSTS, per_page=1, author="alice")
    cursor = body["next_cursor"]
    cursor_error(client.get(POSTS, query_string={"cursor": cursor, "page": 2}))
    cursor_error(client.get(POSTS, query_string={"cursor": cursor, "author": "bob"}))
    cursor_error(client.get(POSTS, query_string={"cursor": cursor, "sort": "title"}))
    cursor_error(client.get(POSTS, query_string={"cursor": cursor, "status": "published"}))
    # Another list's cursor.
    _, users = get_page(client, USERS, per_page=1)
    api.register("bob")
    _, users = get_page(client, USERS, per_page=1)
    cursor_error(client.get(POSTS, query_string={"cursor": users["next_cursor"]}))
    cursor_error(client.get(f"{POSTS}/1/comments", query_string={"cursor": cursor}))
    # Tampered, truncated, made up, or signed with another secret.
    tampered = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")
    for bad in (tampered, cursor[:20], "abc", "e30", "." * 50, "\u00e9" * 10, "eyJsIjoicG9zdHMifQ.x"):
        cursor_error(client.get(POSTS, query_string={"cursor": bad}))
    assert_problem(client.get(POSTS, query_string={"cursor": "x" * 5000}), 422)


def test_a_cursor_from_another_server_is_refused(api, client, make_app):
    alice = api.user("alice")
    published(api, alice, 3)
    _, body = get_page(client, POSTS, per_page=1)
    other = make_app(**{"auth": {"secret_key": "another-secret-of-at-least-32-characters!"}})
    cursor_error(other.test_client().get(POSTS, query_string={"cursor": body["next_cursor"]}))


def a_moment_later() -> str:
    """A time after every write so far and before every one to come (rows take the wall clock)."""
    time.sleep(0.01)
    mark = datetime.now(UTC)
    time.sleep(0.01)
    return mark.isoformat()


def test_updated_since_and_sort_by_updated_at(api, client):
    alice = api.user("alice")
    old = published(api, alice, 2)
    since = a_moment_later()
    fresh = published(api, alice, 1)[0]
    changed = client.patch(f"{POSTS}/{old[0]['id']}", json={"content": "edited"}, headers=alice)
    assert changed.status_code == 200
    _, body = get_page(client, POSTS, updated_since=since, sort="updated_at")
    assert [r["id"] for r in body["items"]] == [fresh["id"], old[0]["id"]]
    _, body = get_page(client, POSTS, updated_since=since, sort="-updated_at")
    assert [r["id"] for r in body["items"]] == [old[0]["id"], fresh["id"]]
    # Inclusive, and an offset is a UTC instant.
    at = datetime.fromisoformat(body["items"][1]["updated_at"]).astimezone(timezone(timedelta(hours=-5)))
    _, body = get_page(client, POSTS, updated_since=at.isoformat(), sort="updated_at")
    assert body["items"][0]["id"] == fresh["id"]
    body = assert_problem(client.get(POSTS, query_string={"updated_since": "yesterday"}), 422)
    assert body["errors"][0]["loc"] == ["query", "updated_since"]
    naive = assert_problem(client.get(POSTS, query_string={"updated_since": "2026-01-01T00:00:00"}), 422)
    assert naive["errors"][0]["loc"] == ["query", "updated_since"]


def test_updated_since_on_items_users_and_comments(api, client):
    root = api.user("root", admin=True)
    post = api.post(root, status="published")
    comments = f"{POSTS}/{post['id']}/comments"
    assert client.post(comments, json={"content": "before"}, headers=root).status_code == 201
    assert client.post(ITEMS, json={"name": "before", "price": "1"}, headers=root).status_code == 201
    since = a_moment_later()
    assert client.post(comments, json={"content": "after"}, headers=root).status_code == 201
    assert client.post(ITEMS, json={"name": "after", "price": "1"}, headers=root).status_code == 201
    api.register("later")
    _, body = get_page(client, comments, updated_since=since, sort="-updated_at")
    assert [r["content"] for r in body["items"]] == ["after"]
    _, body = get_page(client, ITEMS, updated_since=since, sort="updated_at")
    assert [r["name"] for r in body["items"]] == ["after"]
    _, body = get_page(client, USERS, updated_since=since, sort="updated_at")
    assert [r["username"] for r in body["items"]] == ["later"]
