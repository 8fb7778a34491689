"""Posts: shapes, slugs, publish timestamps, visibility of drafts, ownership, filters and sort."""

from __future__ import annotations

from sqlalchemy import text

import models
from tests.support.http import ENVELOPE, POST_KEYS, assert_problem, count, links

POSTS = "/api/v1/posts"


def titles(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [p["title"] for p in response.get_json()["items"]]


def test_create_shape_location_and_defaults(api, client):
    alice = api.user("alice")
    response = client.post(POSTS, json={"title": "Hello, World!", "content": "Body"}, headers=alice)
    assert response.status_code == 201
    post = response.get_json()
    assert set(post) == POST_KEYS
    assert set(post["author"]) == {"id", "username"} and post["author"]["username"] == "alice"
    assert (post["status"], post["slug"], post["published_at"], post["comment_count"]) == (
        "draft",
        "hello-world",
        None,
        0,
    )
    assert response.headers["Location"].endswith(f"{POSTS}/{post['id']}")
    assert client.get(response.headers["Location"], headers=alice).get_json() == post


def test_create_requires_auth(client, app):
    assert_problem(client.post(POSTS, json={"title": "t", "content": "c"}), 401)
    assert count(app, models.Post) == 0


def test_slug_generation_and_collisions(api, client, app):
    alice = api.user("alice")
    slugs = [api.post(alice, title="My Post")["slug"] for _ in range(3)]
    assert slugs == ["my-post", "my-post-2", "my-post-3"]
    assert api.post(alice, title="Héllo  Wörld -- Ünïcode!")["slug"] == "hello-world-unicode"
    assert api.post(alice, title="!!!")["slug"]  # nothing ASCII left: still a valid slug
    assert api.post(alice, title="x", slug="chosen-one")["slug"] == "chosen-one"
    before = count(app, models.Post)
    assert_problem(
        client.post(POSTS, json={"title": "t", "content": "c", "slug": "my-post"}, headers=alice), 409
    )
    for bad in ("Upper", "two--dashes", "-lead", "trail-", "spa ce", "a" * 201):
        problem = assert_problem(
            client.post(POSTS, json={"title": "t", "content": "c", "slug": bad}, headers=alice), 422
        )
        assert ["body", "slug"] in [e["loc"] for e in problem["errors"]]
    assert count(app, models.Post) == before


def test_field_limits(api, client, app):
    alice = api.user("alice")
    for body, field in (
        ({"title": "", "content": "c"}, "title"),
        ({"title": "t" * 201, "content": "c"}, "title"),
        ({"title": "t", "content": ""}, "content"),
        ({"title": "t", "content": "c" * 100_001}, "content"),
        ({"title": "t", "content": "c", "status": "archived"}, "status"),
        ({"content": "c"}, "title"),
    ):
        problem = assert_problem(client.post(POSTS, json=body, headers=alice), 422)
        assert ["body", field] in [e["loc"] for e in problem["errors"]]
    assert count(app, models.Post) == 0
    assert api.post(alice, title="t" * 200, content="c" * 100_000)["title"] == "t" * 200


def test_published_at_set_on_first_publish_only(api, client):
    alice = api.user("alice")
    post = api.post(alice)
    url = f"{POSTS}/{post['id']}"
    first = client.patch(url, json={"status": "published"}, headers=alice).get_json()
    assert first["published_at"] is not None
    client.patch(url, json={"status": "draft"}, headers=alice)
    again = client.patch(url, json={"status": "published"}, headers=alice).get_json()
    assert again["published_at"] == first["published_at"]
    assert api.post(alice, status="published")["published_at"] is not None


def test_put_patch_keep_or_change_slug(api, client, app):
    alice = api.user("alice")
    post = api.post(alice, title="Original")
    taken = api.post(alice, title="Taken")
    url = f"{POSTS}/{post['id']}"
    response = client.put(
        url, json={"title": "New title", "content": "New", "status": "draft"}, headers=alice
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["content"], body["slug"]) == ("New title", "New", "original")
    assert_problem(client.put(url, json={"title": "x", "content": "y"}, headers=alice), 422)
    assert_problem(client.patch(url, json={"slug": taken["slug"]}, headers=alice), 409)
    assert client.get(url, headers=alice).get_json()["slug"] == "original"
    assert client.patch(url, json={"slug": "renamed"}, headers=alice).get_json()["slug"] == "renamed"
    assert client.patch(url, json={"content": "only"}, headers=alice).get_json()["title"] == "New title"


def test_visibility_of_drafts(api, client):
    alice = api.user("alice")
    bob = api.user("bob")
    admin = api.user("root", admin=True)
    draft = api.post(alice, title="Alice draft")
    api.post(alice, title="Alice public", status="published")
    url = f"{POSTS}/{draft['id']}"
    assert_problem(client.get(url), 404)
    assert_problem(client.get(url, headers=bob), 404)
    assert client.get(url, headers=alice).status_code == 200
    assert client.get(url, headers=admin).status_code == 200
    assert titles(client.get(POSTS)) == ["Alice public"]
    assert titles(client.get(POSTS, headers=bob)) == ["Alice public"]
    assert sorted(titles(client.get(POSTS, headers=alice))) == ["Alice draft", "Alice public"]
    assert sorted(titles(client.get(POSTS, headers=admin))) == ["Alice draft", "Alice public"]
    assert titles(client.get(f"{POSTS}?status=draft", headers=bob)) == []
    # Someone else's draft is 404 for writes too (existence does not leak).
    assert_problem(client.patch(url, json={"title": "x"}, headers=bob), 404)
    assert_problem(client.delete(url, headers=bob), 404)


def test_ownership(api, client, app):
    alice = api.user("alice")
    bob = api.user("bob")
    admin = api.user("root", admin=True)
    post = api.post(alice, status="published")
    url = f"{POSTS}/{post['id']}"
    assert_problem(client.patch(url, json={"title": "x"}, headers=bob), 403)
    assert_problem(client.put(url, json={"title": "x", "content": "y", "status": "draft"}, headers=bob), 403)
    assert_problem(client.delete(url, headers=bob), 403)
    assert_problem(client.delete(url), 401)
    assert client.get(url).get_json()["title"] == post["title"]
    assert client.patch(url, json={"title": "by admin"}, headers=admin).get_json()["title"] == "by admin"
    assert client.delete(url, headers=alice).status_code == 204
    assert_problem(client.get(url), 404)
    assert_problem(client.delete(url, headers=alice), 404)
    assert count(app, models.Post) == 0


def test_filters(api, client):
    alice = api.user("alice")
    bob = api.user("bob")
    api.post(alice, title="Python tips", content="snakes", status="published")
    api.post(alice, title="Draft notes", content="later")
    bob_post = api.post(bob, title="Gardening", content="Growing PYTHONS?", status="published")
    assert sorted(titles(client.get(f"{POSTS}?q=python"))) == ["Gardening", "Python tips"]
    assert titles(client.get(f"{POSTS}?author=BOB")) == ["Gardening"]
    assert titles(client.get(f"{POSTS}?author_id={bob_post['author']['id']}")) == ["Gardening"]
    assert titles(client.get(f"{POSTS}?slug=gardening")) == ["Gardening"]
    assert titles(client.get(f"{POSTS}?status=draft", headers=alice)) == ["Draft notes"]
    assert titles(client.get(f"{POSTS}?status=published&author=alice")) == ["Python tips"]
    assert titles(client.get(f"{POSTS}?q=%25%25%25")) == []  # LIKE wildcards are literal
    # A substring from a trigram index: 3 to 100 characters.
    for short_or_long in ("py", "x" * 101):
        body = assert_problem(client.get(POSTS, query_string={"q": short_or_long}), 422)
        assert [e["loc"] for e in body["errors"]] == [["query", "q"]]
    assert titles(client.get(f"{POSTS}?author=nobody")) == []


def test_search_takes_wildcards_and_the_escape_character_literally(api, client):
    alice = api.user("alice")
    for title in ("50% off", "500 off", "snake_case", "snakeXcase", "a/b", "a//b", "ab"):
        api.post(alice, title=title, content="-", status="published")
    assert titles(client.get(f"{POSTS}?q=50%25&sort=title")) == ["50% off"]
    assert titles(client.get(f"{POSTS}?q=e_c")) == ["snake_case"]
    assert titles(client.get(f"{POSTS}?q=a/b")) == ["a/b"]
    assert titles(client.get(f"{POSTS}?q=a//b")) == ["a//b"]


def test_statements_kept_per_query_shape_bind_each_requests_values(api, client):
    """The list statements are built once per shape (viewer kind, sort, filters given) and kept:
    the same shape asked with other values must answer for those values, drafts included."""
    alice, bob = api.user("alice"), api.user("bob")
    api.post(alice, title="alice public", status="published")
    api.post(alice, title="alice draft")
    api.post(bob, title="bob public", status="published")
    api.post(bob, title="bob draft")
    for viewer, author, expected in (
        (alice, "alice", ["alice draft", "alice public"]),
        (alice, "bob", ["bob public"]),
        (bob, "bob", ["bob draft", "bob public"]),
        (bob, "alice", ["alice public"]),
        ({}, "bob", ["bob public"]),
    ):
        response = client.get(f"{POSTS}?author={author}&sort=title", headers=viewer)
        assert titles(response) == expected
        assert response.get_json()["total"] == len(expected)


def test_sort_and_pagination(api, client):
    alice = api.user("alice")
    for title in ("banana", "apple", "cherry"):
        api.post(alice, title=title, status="published")
    assert titles(client.get(POSTS)) == ["cherry", "apple", "banana"]  # default -created_at
    assert titles(client.get(f"{POSTS}?sort=created_at")) == ["banana", "apple", "cherry"]
    assert titles(client.get(f"{POSTS}?sort=title")) == ["apple", "banana", "cherry"]
    assert titles(client.get(f"{POSTS}?sort=-title")) == ["cherry", "banana", "apple"]
    assert titles(client.get(f"{POSTS}?sort=published_at")) == ["banana", "apple", "cherry"]
    for qs in ("sort=content", "sort=author", "sort=--title", "per_page=101", "status=gone", "author_id=x"):
        problem = assert_problem(client.get(f"{POSTS}?{qs}"), 422)
        assert problem["errors"][0]["loc"][0] == "query"
    response = client.get(f"{POSTS}?per_page=2&page=2&sort=title")
    body = response.get_json()
    assert set(body) == ENVELOPE | {"incomplete_results"} and body["incomplete_results"] is False
    assert (body["total"], body["pages"], titles(response)) == (3, 2, ["cherry"])
    assert set(links(response)) == {"first", "prev", "last"}
    assert client.get(f"{POSTS}?page=9").get_json()["items"] == []


def test_a_readers_pages_merge_the_published_posts_with_their_own_in_order(api, client):
    """A signed-in reader's list is read as two parts (published posts, their own others), each
    in order from its own index, and merged: every sort, page after page, matches the order an
    admin sees restricted to what the reader may see, with the right totals."""
    alice = api.user("alice")
    bob = api.user("bob")
    admin = api.user("root", admin=True)
    for n, (who, status) in enumerate(
        [(alice, "draft"), (bob, "published"), (alice, "published"), (bob, "draft"), (alice, "draft")] * 3
    ):
        api.post(who, title=f"post {n % 4}", status=status)  # repeated titles: the id breaks ties
    alice_id = client.get("/api/v1/me", headers=alice).get_json()["id"]
    for sort in ("-created_at", "created_at", "title", "-title", "published_at", "-published_at"):
        for query, visible in (
            ("", lambda p: p["status"] == "published" or p["author"]["id"] == alice_id),
            ("&status=draft", lambda p: p["status"] == "draft" and p["author"]["id"] == alice_id),
            (
                "&q=post 1",
                lambda p: (
                    p["title"] == "post 1" and (p["status"] == "published" or p["author"]["id"] == alice_id)
                ),
            ),
        ):
            everything = client.get(f"{POSTS}?per_page=100&sort={sort}{query}", headers=admin).get_json()
            expected = [p["id"] for p in everything["items"] if visible(p)]
            seen: list[int] = []
            drafts_last: list[bool] = []
            for page in range(1, 8):
                body = client.get(
                    f"{POSTS}?per_page=2&page={page}&sort={sort}{query}", headers=alice
                ).get_json()
                assert body["total"] == len(expected), (sort, query)
                seen += [p["id"] for p in body["items"]]
                drafts_last += [p["published_at"] is None for p in body["items"]]
            assert seen == expected, (sort, query)
            if "published_at" in sort:  # a draft has none: last, whichever the direction
                assert drafts_last == sorted(drafts_last) and any(drafts_last), (sort, query)
            if query.startswith("&q="):  # "post 1": alice's published post and her two drafts
                assert len(expected) == 3


def test_patch_null_for_a_required_field_is_422_and_changes_nothing(api, client):
    headers = api.user("author")
    post = api.post(headers, title="Keep me")
    for field in ("title", "content", "status"):
        problem = assert_problem(
            client.patch(f"/api/v1/posts/{post['id']}", json={field: None}, headers=headers), 422
        )
        assert problem["errors"][0]["loc"] == ["body", field]
    assert client.get(f"/api/v1/posts/{post['id']}", headers=headers).get_json()["title"] == "Keep me"


def test_a_page_far_past_the_end_is_an_empty_200(client):
    response = client.get("/api/v1/posts?page=2000000")
    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_ids_are_never_reused(api, client):
    headers = api.user("author")
    first = api.post(headers, title="First")
    assert client.delete(f"/api/v1/posts/{first['id']}", headers=headers).status_code == 204
    assert api.post(headers, title="Second")["id"] > first["id"]


def test_timestamps_are_utc_whatever_text_the_row_holds(api, client, app):
    """A row's timestamps come back as UTC with a Z: the text SQLAlchemy stores (SQLite's fast
    path in UTCDateTime) and a value another tool wrote with an offset (the general path)."""
    alice = api.user("alice")
    created = client.post(
        POSTS, json={"title": "t", "content": "c", "status": "published"}, headers=alice
    ).get_json()
    assert created["created_at"].endswith("Z") and created["published_at"].endswith("Z")
    listed = client.get(POSTS).get_json()["items"][0]
    assert (listed["created_at"], listed["published_at"]) == (created["created_at"], created["published_at"])
    with app.extensions["inkwell"].db.session(write=True) as session:
        session.execute(
            text("UPDATE posts SET published_at = :at WHERE id = :id"),
            {"at": "2026-01-01 12:00:00.000000+02:00", "id": created["id"]},
        )
        session.commit()
    assert client.get(f"{POSTS}/{created['id']}").get_json()["published_at"] == "2026-01-01T10:00:00Z"
