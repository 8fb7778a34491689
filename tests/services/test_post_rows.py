"""The posts read path (plain rows) and the write path (ORM objects) give PostOut's shape alike."""

from __future__ import annotations

from schemas.common import AuthorRef
from schemas.posts import PostOut

POSTS = "/api/v1/posts"


def test_a_read_row_has_exactly_postout_fields(app, api):
    from services import posts

    alice = api.user("alice")
    created = api.post(alice, status="published")
    unit = app.extensions["inkwell"].unit_of_work(write=False)
    try:
        row = posts.get_visible(uow=unit, actor=None, post_id=created["id"])
    finally:
        unit.close()
    assert set(row) == set(PostOut.model_fields)
    assert set(row["author"]) == set(AuthorRef.model_fields)


def test_a_post_reads_back_as_it_was_written(api, client):
    """POST answers from the ORM object; GET one and a list page from rows: the same JSON."""
    alice = api.user("alice")
    written = api.post(alice, status="published", title="Same shape")
    one = client.get(f"{POSTS}/{written['id']}").get_json()
    listed = client.get(POSTS).get_json()["items"]
    assert one == written
    assert listed == [written]
