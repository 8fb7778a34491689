"""Small contract gaps an outside client found: blank texts, special-use email domains, bodiless
responses that named a media type."""

from __future__ import annotations

import pytest

import models
from tests.support.http import PASSWORD, assert_problem, count

BLANK = " \t\n "


def test_a_blank_title_comment_or_name_is_a_422_and_writes_nothing(api, client, app) -> None:
    admin = api.user("root", admin=True)
    blank = assert_problem(
        client.post("/api/v1/posts", json={"title": BLANK, "content": "c"}, headers=admin), 422
    )
    assert blank["errors"] == [
        {
            "loc": ["body", "title"],
            "msg": "must contain a character other than spaces, tabs and line breaks",
            "type": "string_pattern_mismatch",
        }
    ]
    post = api.post(admin, status="published")
    url = f"/api/v1/posts/{post['id']}"
    assert_problem(client.patch(url, json={"title": BLANK}, headers=admin), 422)
    replaced = {"title": BLANK, "content": "c", "status": "published"}
    assert_problem(client.put(url, json=replaced, headers=admin), 422)
    assert client.get(url).get_json()["title"] == post["title"]
    comments = f"{url}/comments"
    assert_problem(client.post(comments, json={"content": BLANK}, headers=admin), 422)
    assert_problem(client.post("/api/v1/items", json={"name": BLANK, "price": "1.00"}, headers=admin), 422)
    assert_problem(
        client.post("/api/v1/api-keys", json={"name": BLANK, "scopes": ["read"]}, headers=admin), 422
    )
    assert (count(app, models.Comment), count(app, models.Item), count(app, models.ApiKey)) == (0, 0, 0)
    # Text around the words is still the writer's.
    kept = client.post(comments, json={"content": "  hello  "}, headers=admin)
    assert kept.status_code == 201 and kept.get_json()["content"] == "  hello  "


@pytest.mark.parametrize("email", ["x@load.test", "bot@harness.example", "a@b.invalid", "me@host.localhost"])
def test_a_special_use_domain_is_an_address(client, email: str) -> None:
    name = email.split("@")[0] + "_" + email.rsplit(".", 1)[1]
    response = client.post(
        "/api/v1/auth/register", json={"username": name, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["email"] == email


@pytest.mark.parametrize("email", ["x@load..test", "x@", "x@y.onion", "no-at-sign.test"])
def test_a_malformed_or_unroutable_address_is_still_a_422(client, email: str) -> None:
    body = {"username": "someone", "email": email, "password": PASSWORD}
    assert_problem(client.post("/api/v1/auth/register", json=body), 422)


def test_a_bodiless_response_names_no_media_type(api, client) -> None:
    alice = api.user("alice")
    post = api.post(alice)
    deleted = client.delete(f"/api/v1/posts/{post['id']}", headers=alice)
    assert deleted.status_code == 204 and deleted.data == b""
    assert "Content-Type" not in deleted.headers
    options = client.options("/api/v1/posts")
    assert options.status_code == 200 and options.data == b""
    assert "Content-Type" not in options.headers
    assert set(options.headers["Allow"].split(", ")) >= {"GET", "POST", "OPTIONS"}
