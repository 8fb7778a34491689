"""ETags: 304 on If-None-Match, 412 on a stale If-Match, and the concurrent-PATCH race."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.support.http import PASSWORD, assert_problem
from tests.support.live import app_env, live_server


def test_304_and_412(api):
    author = api.user("alice")
    post = api.post(author, status="published")
    url = f"/api/v1/posts/{post['id']}"
    tag = api.client.get(url).headers["ETag"]
    not_modified = api.client.get(url, headers={"If-None-Match": tag})
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    changed = api.client.patch(url, json={"title": "v2"}, headers={**author, "If-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag
    assert_problem(api.client.patch(url, json={"title": "v3"}, headers={**author, "If-Match": tag}), 412)
    assert_problem(api.client.delete(url, headers={**author, "If-Match": tag}), 412)
    assert api.client.get(url).get_json()["title"] == "v2"


@pytest.mark.server
def test_concurrent_patches_with_one_etag(database_url):
    with live_server(app_env(database_url), workers=1) as base:
        name = "racer"
        requests.post(
            f"{base}/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            timeout=10,
        )
        token = requests.post(
            f"{base}/api/v1/auth/login", json={"username": name, "password": PASSWORD}, timeout=10
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        body = {"title": "t", "content": "c"}
        post = requests.post(f"{base}/api/v1/posts", json=body, headers=auth, timeout=10)
        url = post.headers["Location"]
        url = url if url.startswith("http") else base + url
        tag = requests.get(url, headers=auth, timeout=10).headers["ETag"]
        results: list[int] = []
        barrier = threading.Barrier(2)

        def patch(title: str) -> None:
            barrier.wait()
            headers = {**auth, "If-Match": tag}
            response = requests.patch(url, json={"title": title}, headers=headers, timeout=30)
            results.append(response.status_code)

        threads = [threading.Thread(target=patch, args=(t,)) for t in ("one", "two")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == [200, 412]


def test_idempotent_replay_of_a_secret_bearing_response_is_exact_and_encrypted_at_rest(api, client, app):
    """A retried key creation gets the same key back (one row), and the secret is never stored
    in plain text: stored bodies are encrypted."""
    from sqlalchemy import select

    from models import IdempotencyRecord

    headers = {**api.user("keeper"), "Idempotency-Key": "create-key-1"}
    body = {"name": "k", "scopes": ["read"]}
    first = client.post("/api/v1/api-keys", json=body, headers=headers)
    again = client.post("/api/v1/api-keys", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert client.get("/api/v1/api-keys", headers=headers).get_json()["total"] == 1
    secret = first.get_json()["key"].encode()
    with app.extensions["inkwell"].db.session(write=False) as session:
        stored = session.scalars(select(IdempotencyRecord.body)).all()
    assert stored and all(secret not in (row or b"") for row in stored)


def test_links_are_relative_so_the_host_header_never_reaches_the_cache(api, client):
    for n in range(3):
        api.post(api.user(f"writer{n}"), status="published")
    evil = client.get("/api/v1/posts?per_page=1", headers={"Host": "evil.example"})
    assert "evil.example" not in evil.headers["Link"]
    assert evil.headers["Link"].startswith("</api/v1/posts?")
    normal = client.get("/api/v1/posts?per_page=1")
    assert normal.headers["X-Cache"] == "HIT"
    assert "evil.example" not in normal.headers["Link"]


def test_304_keeps_rate_limit_and_security_headers_and_weak_match(make_app):
    from tests.support.http import Api

    app = make_app(rate_limit={"enabled": True, "anonymous": "100/minute"})
    api = Api(app.test_client(), app)
    post = api.post(api.user("writer"), status="published")
    first = api.client.get(f"/api/v1/posts/{post['id']}")
    for tag in (first.headers["ETag"], "W/" + first.headers["ETag"]):
        again = api.client.get(f"/api/v1/posts/{post['id']}", headers={"If-None-Match": tag})
        assert again.status_code == 304
        assert again.get_data() == b""
        assert int(again.headers["X-RateLimit-Remaining"]) < int(first.headers["X-RateLimit-Remaining"])
        assert again.headers["RateLimit"].startswith('"default"')
        assert again.headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Type" not in again.headers


def test_preflight_is_not_rate_limited(make_app):
    app = make_app(
        rate_limit={"enabled": True, "anonymous": "2/minute"}, cors={"origins": ["https://app.example"]}
    )
    client = app.test_client()
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    for _ in range(5):
        assert client.options("/api/v1/posts", headers=preflight).status_code == 200
    assert client.get("/api/v1/items").status_code == 200
