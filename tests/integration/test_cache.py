"""The response cache on the real Redis: hits, exact invalidation, no leaks between callers."""

from __future__ import annotations

from tests.support.http import Api, assert_problem


def test_miss_then_hit_with_same_body_and_etag(rapi):
    author = rapi.user("alice")
    post = rapi.post(author, status="published")
    first = rapi.client.get(f"/api/v1/posts/{post['id']}")
    second = rapi.client.get(f"/api/v1/posts/{post['id']}")
    assert first.headers["X-Cache"] == "MISS"
    assert second.headers["X-Cache"] == "HIT"
    assert first.get_data() == second.get_data()
    assert first.headers["ETag"] == second.headers["ETag"]
    # A hit still answers If-None-Match with a 304.
    again = rapi.client.get(f"/api/v1/posts/{post['id']}", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["X-Cache"] == "HIT"
    assert again.get_data() == b""


def test_lists_keep_link_header_and_key_on_query(rapi):
    author = rapi.user("alice")
    for n in range(3):
        rapi.post(author, title=f"Post {n}", status="published")
    page1 = rapi.client.get("/api/v1/posts?per_page=2&page=1")
    page2 = rapi.client.get("/api/v1/posts?page=2&per_page=2")
    assert page1.headers["X-Cache"] == page2.headers["X-Cache"] == "MISS"
    assert page1.get_json()["items"] != page2.get_json()["items"]
    # Same parameters in another order: the same (normalised) key.
    hit = rapi.client.get("/api/v1/posts?page=1&per_page=2")
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.get_json() == page1.get_json()
    assert hit.headers["Link"] == page1.headers["Link"]


def test_write_invalidates_detail_list_and_comment_count(rapi):
    author = rapi.user("alice")
    post = rapi.post(author, status="published")
    url = f"/api/v1/posts/{post['id']}"
    rapi.client.get(url)
    rapi.client.get("/api/v1/posts")
    rapi.client.get(f"{url}/comments")
    assert rapi.client.get(url).headers["X-Cache"] == "HIT"

    assert rapi.client.patch(url, json={"title": "New title"}, headers=author).status_code == 200
    fresh = rapi.client.get(url)
    assert fresh.headers["X-Cache"] == "MISS"
    assert fresh.get_json()["title"] == "New title"
    assert rapi.client.get("/api/v1/posts").get_json()["items"][0]["title"] == "New title"

    created = rapi.client.post(f"{url}/comments", json={"content": "hi"}, headers=author)
    assert created.status_code == 201
    assert rapi.client.get(url).get_json()["comment_count"] == 1
    assert rapi.client.get(f"{url}/comments").get_json()["total"] == 1

    assert rapi.client.delete(url, headers=author).status_code == 204
    assert_problem(rapi.client.get(url), 404)
    assert rapi.client.get("/api/v1/posts").get_json()["total"] == 0


def test_drafts_never_leak_to_other_callers(rapi):
    alice = rapi.user("alice")
    bob = rapi.user("bob")
    rapi.post(alice, title="Secret draft")
    mine = rapi.client.get("/api/v1/posts", headers=alice)
    assert mine.get_json()["total"] == 1
    assert rapi.client.get("/api/v1/posts", headers=alice).headers["X-Cache"] == "HIT"
    theirs = rapi.client.get("/api/v1/posts", headers=bob)
    anonymous = rapi.client.get("/api/v1/posts")
    assert theirs.headers["X-Cache"] == anonymous.headers["X-Cache"] == "MISS"
    assert theirs.get_json()["total"] == anonymous.get_json()["total"] == 0


def test_errors_are_never_cached(rapi):
    for _ in range(2):
        response = rapi.client.get("/api/v1/posts/999")
        assert_problem(response, 404)
        assert response.headers["X-Cache"] == "MISS"
        invalid = rapi.client.get("/api/v1/posts?per_page=0")
        assert_problem(invalid, 422)


def test_user_delete_invalidates_their_posts(rapi):
    alice = rapi.user("alice")
    post = rapi.post(alice, status="published")
    me = rapi.client.get("/api/v1/me", headers=alice).get_json()
    rapi.client.get("/api/v1/posts")
    assert rapi.client.get("/api/v1/posts").headers["X-Cache"] == "HIT"
    assert rapi.client.delete(f"/api/v1/users/{me['id']}", headers=alice).status_code == 204
    assert rapi.client.get("/api/v1/posts").get_json()["total"] == 0
    assert_problem(rapi.client.get(f"/api/v1/posts/{post['id']}"), 404)


def test_cache_values_are_json_under_their_own_prefix(rapi, redis_prefix):
    """An entry is a JSON head, a newline and the body exactly as sent: never pickle."""
    import orjson
    import redis

    from tests.support.services import REDIS_URL

    sent = rapi.client.get("/api/v1/items")
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{redis_prefix}:cache:{{*}}:e:*"))
    assert len(keys) == 1
    head, newline, body = client.get(keys[0]).partition(b"\n")
    assert newline == b"\n"
    assert set(orjson.loads(head)) == {"v", "e", "l"}
    assert orjson.loads(head)["e"] == sent.headers["ETag"]
    assert body == sent.get_data()


def test_a_miss_is_stored_with_its_ttl_after_redis_closed_the_connection(redis_app, redis_prefix):
    """A miss's entry is SET straight on the server thread's own connection (ThreadConnections in
    core/redis.py): it expires after cache.default_ttl_seconds, and a connection Redis closed is
    reconnected and the SET sent again, as redis-py's client would, not a breaker trip."""
    import redis

    from tests.support.services import REDIS_URL

    app = redis_app(rate_limit={"enabled": False})  # the limiter's script would reconnect first
    api = Api(app.test_client(), app)
    cache = app.pipeline.cache
    admin = redis.Redis.from_url(REDIS_URL)
    own = cache.direct.own()
    own.send_command("CLIENT", "ID")
    admin.client_kill_filter(_id=own.read_response())

    assert api.client.get("/api/v1/items").headers["X-Cache"] == "MISS"
    keys = list(admin.scan_iter(match=f"{redis_prefix}:cache:{{*}}:e:*"))
    assert len(keys) == 1
    assert 0 < admin.ttl(keys[0]) <= cache.ttl
    assert api.client.get("/api/v1/items").headers["X-Cache"] == "HIT"
    assert cache.breaker.trips == 0


def test_a_cached_get_is_one_redis_round_trip_with_the_limit(redis_app, monkeypatch):
    """The limiter's script reads the cache entry too: one round trip for limit and cache."""
    import redis.connection

    app = redis_app(rate_limit={"enabled": True, "anonymous": "1000/minute"})
    api = Api(app.test_client(), app)
    post = api.post(api.user("alice"), status="published")
    url = f"/api/v1/posts/{post['id']}"
    assert api.client.get(url).headers["X-Cache"] == "MISS"

    sent: list[bytes] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    response = api.client.get(url)
    assert response.headers["X-Cache"] == "HIT"
    assert int(response.headers["X-RateLimit-Remaining"]) < 1000
    assert len(sent) == 1, sent
