"""My posts in the console: write, edit, publish, delete; someone else's cannot be touched."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.console.conftest import Console, errors, field_has_error, text


def post_ids(console: Console) -> dict[str, int]:
    page = text(console.client.get("/console/posts"))
    return {
        title: int(pid)
        for pid, title in re.findall(r'/console/posts/(\d+)/edit" aria-label="Edit ([^"]+)"', page)
    }


def anonymous_titles(console: Console) -> list[str]:
    response = console.app.test_client().get("/api/v1/posts")
    assert response.status_code == 200
    return [p["title"] for p in response.get_json()["items"]]


def test_write_a_draft_publish_it_and_the_anonymous_api_lists_it(
    make_console: Callable[..., Console],
) -> None:
    # The response cache is on (in-process): a publish from the console must make cached lists stale.
    console = make_console(cache={"enabled": True}).user("alice")
    assert anonymous_titles(console) == []
    saved = console.submit(
        "/console/posts/new", {"title": "Hello world", "content": "First post.", "status": "draft"}
    )
    assert saved.status_code == 303 and saved.headers["Location"] == "/console/posts"
    page = text(console.client.get("/console/posts"))
    assert "Post saved." in page and "Hello world" in page and "draft" in page
    assert anonymous_titles(console) == []  # a draft is nobody else's business; now cached
    post_id = post_ids(console)["Hello world"]
    published = console.submit(f"/console/posts/{post_id}/publish", {}, form="/console/posts")
    assert published.status_code == 303
    assert "Post published." in text(console.client.get("/console/posts"))
    assert anonymous_titles(console) == ["Hello world"]


def test_post_form_errors_next_to_each_field(console: Console) -> None:
    console.user("alice")
    response = console.submit("/console/posts/new", {"title": "", "content": "", "status": "later"})
    assert response.status_code == 422
    found = errors(response)
    assert set(found) == {"title", "content", "status"}
    assert field_has_error(response, "title") and field_has_error(response, "content")
    assert post_ids(console) == {}


def test_edit_then_delete_after_confirming(console: Console) -> None:
    console.user("alice")
    console.submit("/console/posts/new", {"title": "Draft one", "content": "Text.", "status": "draft"})
    post_id = post_ids(console)["Draft one"]
    form = console.client.get(f"/console/posts/{post_id}/edit")
    assert form.status_code == 200 and 'value="Draft one"' in text(form)
    bad = console.submit(
        f"/console/posts/{post_id}/edit", {"title": "", "content": "Text.", "status": "draft"}
    )
    assert bad.status_code == 422 and field_has_error(bad, "title")
    edited = console.submit(
        f"/console/posts/{post_id}/edit", {"title": "Draft two", "content": "More.", "status": "published"}
    )
    assert edited.status_code == 303
    assert anonymous_titles(console) == ["Draft two"]
    confirm = console.client.get(f"/console/posts/{post_id}/delete")
    assert confirm.status_code == 200 and "Do you really want to delete the post “Draft two”" in text(confirm)
    assert post_ids(console) == {"Draft two": post_id}
    deleted = console.submit(f"/console/posts/{post_id}/delete", {})
    assert deleted.status_code == 303 and post_ids(console) == {}
    assert anonymous_titles(console) == []


def test_another_users_post_cannot_be_edited_or_deleted(console: Console) -> None:
    console.user("alice")
    console.submit("/console/posts/new", {"title": "Secret draft", "content": "x", "status": "draft"})
    console.submit("/console/posts/new", {"title": "Public post", "content": "x", "status": "published"})
    ids = post_ids(console)
    bob = Console(console.app).user("bob")
    draft, public = ids["Secret draft"], ids["Public post"]
    change = {"title": "Mine now", "content": "x", "status": "draft"}
    # Someone else's draft does not exist for bob: 404, as the API answers.
    for path in (f"/console/posts/{draft}/edit", f"/console/posts/{draft}/delete"):
        assert bob.client.get(path).status_code == 404
    for path, data in [
        (f"/console/posts/{draft}/edit", change),
        (f"/console/posts/{draft}/publish", {}),
        (f"/console/posts/{draft}/delete", {}),
    ]:
        refused = bob.submit(path, data, form="/console/posts/new")
        assert refused.status_code == 404 and "404 Not Found" in text(refused), path
    # A published post is visible to bob but is not his: not in his console either (404).
    assert bob.client.get(f"/console/posts/{public}/edit").status_code == 404
    for path, data in [
        (f"/console/posts/{public}/edit", change),
        (f"/console/posts/{public}/publish", {}),
        (f"/console/posts/{public}/delete", {}),
    ]:
        refused = bob.submit(path, data, form="/console/posts/new")
        assert refused.status_code == 404 and "404 Not Found" in text(refused), path
    assert post_ids(console) == ids
    assert "Mine now" not in text(console.client.get("/console/posts"))


def test_a_blank_title_is_refused_next_to_its_field_in_words(make_console: Callable[..., Console]) -> None:
    console = make_console().user("alice")
    refused = console.submit("/console/posts/new", {"title": "   ", "content": "Body.", "status": "draft"})
    assert refused.status_code == 422
    assert errors(refused)["title"] == ["must contain a character other than spaces, tabs and line breaks"]
    assert field_has_error(refused, "title")
    assert post_ids(console) == {}
