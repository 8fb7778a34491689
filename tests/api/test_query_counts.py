"""SQL statements per endpoint: no N+1 (author and comment_count come with the post)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.support.http import Api


@contextmanager
def count_queries(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    statements: list[str] = []
    engine = app.extensions["inkwell"].db.engine

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.split(None, 1)[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def uncached(make_app):  # type: ignore[no-untyped-def]
    """The database path of every GET: the response cache is off."""
    return make_app(cache={"enabled": False})


def seed_posts(api, headers, n: int) -> list[dict]:  # type: ignore[no-untyped-def]
    posts = [api.post(headers, title=f"Post {i}", status="published") for i in range(n)]
    for post in posts[:5]:
        for _ in range(3):
            assert (
                api.client.post(
                    f"/api/v1/posts/{post['id']}/comments", json={"content": "hi"}, headers=headers
                ).status_code
                == 201
            )
    return posts


def test_post_detail_is_one_query(uncached) -> None:  # type: ignore[no-untyped-def]
    api = Api(uncached.test_client(), uncached)
    headers = api.user("writer")
    post = seed_posts(api, headers, 1)[0]
    with count_queries(uncached) as statements:
        response = api.client.get(f"/api/v1/posts/{post['id']}")
    assert response.status_code == 200
    assert response.get_json()["comment_count"] == 3
    assert len(statements) == 1, statements


@pytest.mark.parametrize("url", ["/api/v1/posts?per_page=20", "/api/v1/items?per_page=20", "/api/v1/users"])
def test_list_is_page_plus_count(uncached, url) -> None:  # type: ignore[no-untyped-def]
    api = Api(uncached.test_client(), uncached)
    headers = api.user("writer", admin=True)
    seed_posts(api, headers, 25)
    for i in range(25):
        api.client.post("/api/v1/items", json={"name": f"Item {i}", "price": "1.00"}, headers=headers)
    with count_queries(uncached) as statements:
        response = api.client.get(url)
    assert response.status_code == 200
    assert len(response.get_json()["items"]) >= 1
    assert len(statements) == 2, statements  # the page and its total, whatever the page size


def test_a_readers_list_merges_two_ordered_parts_in_one_statement(uncached) -> None:  # type: ignore[no-untyped-def]
    """A signed-in reader (not an admin) sees published posts and their own drafts: one page
    statement reading each part in order up to offset + limit and merging them, and one count:
    the published posts' kept total (post_counts) plus the reader's own others, counted from
    their index. An OR of the two had no index to order by (README)."""
    api = Api(uncached.test_client(), uncached)
    writer = api.user("writer")
    reader = api.user("reader")
    seed_posts(api, writer, 3)
    api.post(reader, title="Reader draft")
    with count_queries(uncached) as statements:
        response = api.client.get("/api/v1/posts?per_page=2&page=2", headers=reader)
    assert response.status_code == 200
    assert response.get_json()["total"] == 4
    listed = [sql for sql in statements if "FROM posts" in sql]  # not the caller's own row
    assert len(listed) == 2, statements
    count, page = sorted(listed, key=lambda sql: "UNION ALL" in sql)
    assert "UNION ALL" in page and page.count("LIMIT ") == 3, page  # each part, then the page
    assert "FROM post_counts" in count and count.lower().count("count(") == 1, count
    with count_queries(uncached) as statements:
        assert api.client.get("/api/v1/posts?per_page=2&page=2").status_code == 200
    assert not any("UNION ALL" in sql for sql in statements)  # one part for anonymous callers


def test_comment_list_is_visibility_check_plus_page_and_count(uncached) -> None:  # type: ignore[no-untyped-def]
    api = Api(uncached.test_client(), uncached)
    headers = api.user("writer")
    post = seed_posts(api, headers, 1)[0]
    with count_queries(uncached) as statements:
        response = api.client.get(f"/api/v1/posts/{post['id']}/comments")
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == 3
    assert len(statements) == 3, statements


def test_a_page_that_misses_reuses_the_cached_total(make_app) -> None:  # type: ignore[no-untyped-def]
    """Totals are cached per filter set under the namespace version: page 2 skips the COUNT."""
    app = make_app()  # in-process cache
    api = Api(app.test_client(), app)
    headers = api.user("writer")
    seed_posts(api, headers, 25)
    first = api.client.get("/api/v1/posts?per_page=10&page=1")
    assert first.headers["X-Cache"] == "MISS"
    with count_queries(app) as statements:
        second = api.client.get("/api/v1/posts?per_page=10&page=2")
    assert second.headers["X-Cache"] == "MISS"
    assert second.get_json()["total"] == 25
    assert len(statements) == 1, statements  # the page only
    # Another filter set has its own total; a write makes every cached total stale at once.
    with count_queries(app) as statements:
        assert api.client.get("/api/v1/posts?per_page=10&q=Post%201").get_json()["total"] == 11
    assert len(statements) == 2
    api.post(headers, title="One more", status="published")
    with count_queries(app) as statements:
        assert api.client.get("/api/v1/posts?per_page=10&page=2").get_json()["total"] == 26
    assert len(statements) == 2


def test_cached_totals_follow_visibility(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    api = Api(app.test_client(), app)
    headers = api.user("writer")
    api.post(headers, title="Draft")
    api.post(headers, title="Public", status="published")
    assert api.client.get("/api/v1/posts", headers=headers).get_json()["total"] == 2
    assert api.client.get("/api/v1/posts?page=2").get_json()["total"] == 1
    assert api.client.get("/api/v1/posts?page=2", headers=headers).get_json()["total"] == 2


def test_a_cached_authenticated_get_runs_no_sql_embedded(make_app) -> None:  # type: ignore[no-untyped-def]
    """The embedded defaults (in-process cache and versions) remember callers too."""
    app = make_app()
    api = Api(app.test_client(), app)
    bearer = api.user("reader")
    key = api.key(bearer, ["read"])
    post = api.post(bearer, status="published")
    for credential in (bearer, key):
        api.client.get(f"/api/v1/posts/{post['id']}", headers=credential)
        with count_queries(app) as statements:
            assert api.client.get(f"/api/v1/posts/{post['id']}", headers=credential).status_code == 200
        assert statements == [], statements
