"""An unfiltered posts list's total comes from post_counts (kept by triggers in the writing
transaction): exact after every kind of write, for each kind of viewer."""

from __future__ import annotations

from sqlalchemy import func, select

import models

POSTS = "/api/v1/posts"


def totals(client, admin, reader) -> tuple[int, int, int, int]:
    def total(headers=None, **query) -> int:
        response = client.get(POSTS, query_string={"per_page": 1, **query}, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["total"]

    return total(), total(reader), total(admin), total(admin, status="draft")


def counted(app) -> tuple[int, int]:
    """What a COUNT over the posts says: (published, all)."""
    with app.extensions["inkwell"].db.session(write=False) as session:
        published = session.scalar(select(func.count()).where(models.Post.status == "published"))
        return published, session.scalar(select(func.count()).select_from(models.Post))


def test_kept_totals_follow_every_write(api, client, app):
    admin = api.user("root", admin=True)
    reader = api.user("reader")
    writer = api.user("writer")
    draft = api.post(reader, title="reader's draft")
    posts = [api.post(writer, title=f"post {n}", status="published") for n in range(3)]
    other = api.post(writer, title="writer's draft")
    assert totals(client, admin, reader) == (3, 4, 5, 2)
    # Published, edited without a status change, deleted.
    assert (
        client.patch(f"{POSTS}/{other['id']}", json={"status": "published"}, headers=writer).status_code
        == 200
    )
    assert (
        client.patch(f"{POSTS}/{posts[0]['id']}", json={"title": "renamed"}, headers=writer).status_code
        == 200
    )
    assert client.delete(f"{POSTS}/{posts[1]['id']}", headers=writer).status_code == 204
    assert totals(client, admin, reader) == (3, 4, 4, 1)
    assert counted(app) == (3, 4)
    # A user deleted with their posts.
    writer_id = client.get("/api/v1/me", headers=writer).get_json()["id"]
    assert client.delete(f"/api/v1/users/{writer_id}", headers=admin).status_code == 204
    assert totals(client, admin, reader) == (0, 1, 1, 1)
    assert counted(app) == (0, 1)
    assert client.delete(f"{POSTS}/{draft['id']}", headers=reader).status_code == 204
    assert totals(client, admin, reader) == (0, 0, 0, 0)
