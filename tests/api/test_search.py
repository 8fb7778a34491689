"""Search on posts (contract section 7): `q` and `search` from indexes, on both engines."""

from __future__ import annotations

import pytest

from tests.support.http import assert_problem

POSTS = "/api/v1/posts"


def found(client, headers=None, **query) -> list[str]:
    response = client.get(POSTS, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["incomplete_results"] is False
    return [post["title"] for post in body["items"]]


@pytest.fixture
def alice(api):
    return api.user("alice")


def test_q_is_kept_in_step_with_every_write(api, client, alice):
    post = api.post(alice, title="Zebra crossing", content="stripes", status="published")
    api.post(alice, title="Other", content="a ZEBRA in the text", status="published")
    assert sorted(found(client, q="zebr")) == ["Other", "Zebra crossing"]
    assert found(client, q="ripe") == ["Zebra crossing"]  # inside a word, in the content
    assert found(client, q="ing stri") == []  # title and content are not one text
    assert found(client, q="a cross") == ["Zebra crossing"]  # spaces are characters too
    patched = client.patch(
        f"{POSTS}/{post['id']}", json={"title": "Horse", "content": "plain"}, headers=alice
    )
    assert patched.status_code == 200
    assert found(client, q="zebra") == ["Other"] and found(client, q="horse") == ["Horse"]
    assert client.delete(f"{POSTS}/{post['id']}", headers=alice).status_code == 204
    assert found(client, q="horse") == []


def test_search_by_stems_phrases_exclusions_and_or(api, client, alice):
    for title, content in [
        ("Caching at scale", "how a cache helps"),
        ("Redis notes", "a cache in front of the database"),
        ("Gardening", "caches of seeds, in the garden shed"),
        ("Cooking", "nothing about it"),
    ]:
        api.post(alice, title=title, content=content, status="published")
    # English stems: caching, cache, caches.
    assert set(found(client, search="caching")) == {"Caching at scale", "Redis notes", "Gardening"}
    # The title weighs more than the content.
    assert found(client, search="caching")[0] == "Caching at scale"
    assert found(client, search='"in front of"') == ["Redis notes"]
    assert set(found(client, search="cache -seeds")) == {"Caching at scale", "Redis notes"}
    assert set(found(client, search="garden or cooking")) == {"Gardening", "Cooking"}
    assert found(client, search="cache database") == ["Redis notes"]  # every word: AND
    assert found(client, search="-cache") == []  # nothing to look for
    # With the other filters, and with another sort.
    assert found(client, search="cache", q="seed") == ["Gardening"]
    assert found(client, search="cache", sort="title") == ["Caching at scale", "Gardening", "Redis notes"]


def test_search_finds_only_what_the_caller_may_see(api, client, alice):
    bob = api.user("bob")
    api.post(alice, title="alice's draft about caching")
    api.post(bob, title="bob's published caching", status="published")
    assert found(client, search="caching") == ["bob's published caching"]
    assert sorted(found(client, alice, search="caching")) == [
        "alice's draft about caching",
        "bob's published caching",
    ]
    assert found(client, bob, search="caching") == ["bob's published caching"]
    assert found(client, bob, q="draft") == []


def test_relevance_needs_a_search(client):
    body = assert_problem(client.get(POSTS, query_string={"sort": "relevance"}), 422)
    assert [e["loc"] for e in body["errors"]] == [["query", "sort"]]
    for bad in ("", "x" * 201):
        body = assert_problem(client.get(POSTS, query_string={"search": bad}), 422)
        assert [e["loc"] for e in body["errors"]] == [["query", "search"]]


HOSTILE = [
    '"',
    '""',
    '"unclosed phrase',
    "a AND",
    "OR",
    "or or or",
    "NOT a",
    "a NOT b",
    "cach*",
    "*",
    "NEAR(a b)",
    "NEAR/2",
    "title:cache",
    "{title}: cache",
    "^cache",
    "(cache",
    "cache)",
    "((",
    "- - -",
    "-",
    "a -",
    "'",
    "\\",
    "%_%",
    "&|!<>:*",
    "\U0001f600" * 200,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_no_input_reaches_the_query_language(api, client, alice, text):
    api.post(alice, title="cache", content="NEAR a b title", status="published")
    for query in ({"search": text}, {"q": text * 3 if len(text) < 3 else text[:100]}):
        response = client.get(POSTS, query_string=query)
        assert response.status_code == 200, (query, response.get_json())
        assert response.get_json()["incomplete_results"] is False
    assert_problem(client.get(POSTS, query_string={"search": "cache\x00"}), 422)


def test_a_search_walks_with_cursors_and_stops_at_a_thousand(app, client, alice):
    from models import Post, User

    with app.extensions["inkwell"].db.session(write=True) as session:
        author = session.query(User).one()
        for n in range(1005):
            title = "needle" if n % 2 else f"needle needle {n}"
            session.add(
                Post(author_id=author.id, title=title, content="hay", slug=f"p{n}", status="published")
            )
        session.commit()
    first = client.get(POSTS, query_string={"search": "needle", "per_page": 100}).get_json()
    assert first["total"] == 1000 and first["pages"] == 10
    seen, body = [], first
    for _ in range(20):  # ten pages; a cursor that did not move would loop
        seen.extend(post["id"] for post in body["items"])
        if body["next_cursor"] is None:
            break
        body = client.get(POSTS, query_string={"cursor": body["next_cursor"], "per_page": 100}).get_json()
    assert len(seen) == 1000 == len(set(seen))


def test_a_search_past_its_time_limit_answers_with_what_it_found(make_app):
    app = make_app(search={"timeout_ms": 1})
    client = app.test_client()
    from models import Post, User

    with app.extensions["inkwell"].db.session(write=True) as session:
        author = User(username="writer", email="writer@example.com", password_hash="x")
        session.add(author)
        session.flush()
        content = "a long text about caching and search engines " * 40
        for n in range(3000):
            session.add(
                Post(
                    author_id=author.id, title=f"cache {n}", content=content, slug=f"p{n}", status="published"
                )
            )
        session.commit()
    response = client.get(POSTS, query_string={"search": "cache engines", "per_page": 5})
    assert response.status_code == 200
    body = response.get_json()
    assert body["incomplete_results"] is True
    assert len(body["items"]) == 5 and 5 <= body["total"] <= 1000
    assert all("cache" in post["title"] for post in body["items"])
