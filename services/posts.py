"""Posts: visibility of drafts, ownership, slugs, publish timestamps."""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Any, get_args

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    bindparam,
    cast,
    exists,
    func,
    inspect,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.exc import IntegrityError

from models import Post, PostCount, User
from schemas.common import AuthorRef
from schemas.posts import PostCreate, PostOut, PostQuery, PostReplace, PostUpdate, Status
from services import search
from services.actor import Actor, require
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.pagination import After, Listing, Order, Paged, like_pattern, listing, order, paginate, resume
from services.uow import UnitOfWork

STATUSES = frozenset(get_args(Status))
SORTS = {
    "created_at": Post.created_at,
    "published_at": Post.published_at,
    "title": Post.title,
    "updated_at": Post.updated_at,
}
SLUG_MAX = 200
SLUG_ATTEMPTS = 20
Precondition = Callable[[object], None]


def slugify(title: str) -> str:
    """Lower-case ASCII words joined by '-' ('Héllo, World!' -> 'hello-world')."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[: SLUG_MAX - 8].rstrip("-") or "post"


def status_is(status: str) -> ColumnElement[bool]:
    """`posts.status = 'published'` with the value written into the SQL, never a bound parameter:
    SQLite plans a statement again at every execution when a bound value could decide whether a
    partial index applies (uq_posts_published_slug's `WHERE status = 'published'`)."""
    if status not in STATUSES:  # written into the SQL: only the two values a post can have
        raise ValueError(f"not a post status: {status!r}")
    return Post.status == literal_column(f"'{status}'")


def visible_to(actor: Actor | None) -> ColumnElement[bool]:
    """Published posts, the caller's own drafts, and everything for admins."""
    return _visibility(_viewer(actor), actor.user_id if actor is not None else None)


def _viewer(actor: Actor | None) -> str:
    return "anonymous" if actor is None else "admin" if actor.is_admin else "user"


def _visibility(viewer: str, viewer_id: Any) -> ColumnElement[bool]:
    parts = _visible_parts(viewer, viewer_id)
    return or_(*parts) if parts else true()


def _visible_parts(viewer: str, viewer_id: Any) -> tuple[ColumnElement[bool], ...]:
    """What a viewer may see as disjoint conditions, each served by an index (a list page reads
    each part in order and merges them: services/pagination.py); nothing to check for admins."""
    if viewer == "anonymous":
        return (status_is("published"),)
    if viewer == "admin":
        return ()
    return (status_is("published"), and_(Post.author_id == viewer_id, ~status_is("published")))


def list_posts(*, uow: UnitOfWork, actor: Actor | None, query: PostQuery) -> Paged[dict[str, Any]]:
    """A page of posts as dicts in PostOut's shape: plain rows, cheaper to load than ORM objects,
    for posts that are only read."""
    query, position = resume(uow, "posts", query)
    if query.search is None and query.sort == "relevance":
        raise Invalid("sort=relevance ranks a search: give search too", loc=("query", "sort"))
    if query.search is not None and "sort" not in query.model_fields_set:
        query = query.model_copy(update={"sort": "relevance"})
    dialect = uow.session.get_bind().dialect.name
    words = None
    if query.search is not None:
        words = search.fts5_words(search.parse(query.search))
        if words is None:  # no word to look for: nothing is found
            return Paged([], 0, query, cursor_mode=position is not None, next_cursor=None)
    substring = None
    if query.q:
        substring = search.fts5_substring(query.q) if dialect == "sqlite" else like_pattern(query.q)
    filters = {
        "author_id": query.author_id,
        "author": query.author.lower() if query.author else None,
        "slug": query.slug,
        "q": substring,
        "search": (words if dialect == "sqlite" else query.search) if words is not None else None,
        "updated_since": query.updated_since,
    }
    given = {name: value for name, value in filters.items() if value is not None}
    after = position.after if position is not None else None
    params = {**given, "viewer_id": actor.user_id if actor is not None else None}
    shape = partial(_listing, dialect, _viewer(actor), query.sort, frozenset(given), query.status, after)
    page = partial(paginate, uow, request=query, list_name="posts", position=position, params=params)
    if words is None:
        paged = page(shape())
    else:
        limit = search.TimeLimit(uow.session, uow.config.search_timeout_ms)
        try:
            paged = page(shape(), guard=limit.statement)
        except search.TimedOut:
            # The first matches the index yields, ranked: fast at any count; not the true total.
            paged = page(shape(ranked=False), cached_total=False)
            paged.incomplete = True
    paged.rows = [_shaped(row) for row in paged.rows]
    return paged


def _shaped(row: dict[str, Any]) -> dict[str, Any]:
    """A row of _ROWS in PostOut's shape: the author's columns folded into AuthorRef's."""
    row["author"] = {name: row.pop(f"author_{name}") for name in _AUTHOR_FIELDS}
    return row


# The read path's one definition of a post row, taken from the response schema: PostOut's fields
# as columns of Post, and its author as AuthorRef's fields of User (tests/services/test_post_rows.py).
_AUTHOR_FIELDS = tuple(AuthorRef.model_fields)
_ROWS = select(
    *(getattr(Post, name).label(name) for name in PostOut.model_fields if name != "author"),
    *(getattr(User, name).label(f"author_{name}") for name in _AUTHOR_FIELDS),
).join_from(Post, User, Post.author_id == User.id)


@functools.cache
def _listing(
    dialect: str,
    viewer: str,
    sort: str,
    filters: frozenset[str],
    status: str | None,
    after: After,
    ranked: bool = True,
) -> Listing:
    """The list statements for one shape of query (database, kind of viewer, sort, which filters
    are given), built once with every value a bound parameter (see services/pagination.Listing).

    With `search`, the list is the best MAX_RESULTS matches the viewer may see (or, not `ranked`,
    the first the index yields, ranked), in relevance order or the sort's."""
    stmt = _filtered(select(Post), dialect, filters, status)
    parts = _visible_parts(viewer, bindparam("viewer_id"))
    if "search" not in filters:
        shape = listing(stmt, order(SORTS, sort, Post.id), rows=_ROWS, parts=parts, after=after)
        kept = _kept_total(viewer, status) if not filters else None
        return shape if kept is None else dataclasses.replace(shape, count=kept)
    join, rank, matches = search.post_words_match(dialect)
    best = stmt.with_only_columns(Post.id, rank.label("relevance"))
    if join is not None:
        best = best.join(join, join.c.rowid == Post.id)
    best = best.where(matches, _visibility(viewer, bindparam("viewer_id")))
    if ranked:
        best = best.order_by(rank, Post.id)
    found = best.limit(search.MAX_RESULTS).subquery("best")
    in_order = (
        Order(found.c.relevance, Post.id, False) if sort == "relevance" else order(SORTS, sort, Post.id)
    )
    return listing(select(Post).join(found, found.c.id == Post.id), in_order, rows=_ROWS, after=after)


def _kept_total(viewer: str, status: str | None) -> Select[Any] | None:
    """An unfiltered list's total from post_counts (kept by triggers, models/post.py), where it
    gives one: a signed-in reader's own drafts are counted from their index."""

    def posts_with(*statuses: str) -> Select[Any]:
        # sum() of a bigint is a numeric on PostgreSQL: cast back, so the total is an int.
        total = cast(func.coalesce(func.sum(PostCount.n), 0), BigInteger)
        return select(total).where(PostCount.status.in_(statuses))

    if viewer == "admin":
        return posts_with(*([status] if status else sorted(STATUSES)))
    if status == "published":
        return posts_with("published")
    if status is not None:
        return None
    if viewer == "anonymous":
        return posts_with("published")
    own = select(func.count()).where(Post.author_id == bindparam("viewer_id"), ~status_is("published"))
    return select(posts_with("published").scalar_subquery() + own.scalar_subquery())


def _filtered(stmt: Select[Any], dialect: str, filters: frozenset[str], status: str | None) -> Select[Any]:
    if status is not None:
        stmt = stmt.where(status_is(status))
    if "author_id" in filters:
        stmt = stmt.where(Post.author_id == bindparam("author_id"))
    if "author" in filters:
        by_name = select(User.id).where(func.lower(User.username) == bindparam("author"))
        stmt = stmt.where(Post.author_id == by_name.scalar_subquery())
    if "slug" in filters:
        stmt = stmt.where(Post.slug == bindparam("slug"))
    if "q" in filters:
        join, matches = search.post_substring(dialect, Post.title, Post.content)
        if join is not None:
            stmt = stmt.join(join, join.c.rowid == Post.id)
        stmt = stmt.where(matches)
    if "updated_since" in filters:
        stmt = stmt.where(Post.updated_at >= bindparam("updated_since"))
    return stmt


@functools.cache
def _visible_by_id(viewer: str) -> Select[Any]:
    """GET one post's statement, built once per kind of viewer with the ids as bound parameters:
    building it anew would cost more than SQLite takes to run it."""
    return _ROWS.where(Post.id == bindparam("post_id"), _visibility(viewer, bindparam("viewer_id")))


def get_visible(*, uow: UnitOfWork, actor: Actor | None, post_id: int) -> dict[str, Any]:
    """The post, as a dict in PostOut's shape, if the caller may see it; someone else's draft is
    'not found', not 'forbidden'. Read as a plain row like a list page's (see list_posts), on
    the session's connection: changes the session has not flushed are not seen."""
    params = {"post_id": post_id, "viewer_id": actor.user_id if actor is not None else None}
    result = uow.session.connection().execute(_visible_by_id(_viewer(actor)), params)
    row = result.mappings().first()
    if row is None:
        raise NotFound("post not found")
    return _shaped(dict(row))


def create(*, uow: UnitOfWork, actor: Actor | None, data: PostCreate) -> Post:
    actor = require(actor, "posts:write")
    post = Post(author_id=actor.user_id, title=data.title, content=data.content, slug="")
    post.set_status(data.status)
    _save_with_slug(uow, post, actor, given=data.slug)
    uow.commit()
    uow.session.refresh(post)
    return post


def replace(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    post_id: int,
    data: PostReplace,
    precondition: Precondition | None = None,
) -> Post:
    return _change(
        uow=uow, actor=actor, post_id=post_id, changes=data.model_dump(), precondition=precondition
    )


def update(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    post_id: int,
    data: PostUpdate,
    precondition: Precondition | None = None,
) -> Post:
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    return _change(uow=uow, actor=actor, post_id=post_id, changes=changes, precondition=precondition)


def delete(
    *, uow: UnitOfWork, actor: Actor | None, post_id: int, precondition: Precondition | None = None
) -> None:
    post = _get_own(uow=uow, actor=actor, post_id=post_id)
    if precondition:
        precondition(post)
    uow.session.delete(post)
    uow.commit()


def _change(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    post_id: int,
    changes: dict[str, Any],
    precondition: Precondition | None,
) -> Post:
    post = _get_own(uow=uow, actor=actor, post_id=post_id)
    if precondition:
        precondition(post)
    for field in ("title", "content"):
        if field in changes:
            setattr(post, field, changes[field])
    publishing = changes.get("status") == "published" and post.status != "published"
    new_slug = changes.get("slug")
    # The slug first: a draft published under a new slug must not be flushed under its old one.
    if new_slug and new_slug != post.slug:
        _save_with_slug(uow, post, actor, given=new_slug)
    elif publishing and uow.session.scalar(
        select(exists().where(Post.slug == post.slug, Post.id != post.id, status_is("published")))
    ):
        # A draft's slug was its own; published, it must be unique among published posts.
        raise Conflict("a published post already has this slug; give the post another one")
    if "status" in changes:
        post.set_status(changes["status"])
    uow.commit()
    uow.session.refresh(post)
    return post


def get_editable(*, uow: UnitOfWork, actor: Actor | None, post_id: int) -> Post:
    """The post if the caller may change it (an edit form): the same checks as a write, no lock."""
    return _get_own(uow=uow, actor=actor, post_id=post_id, lock=False)


def _get_own(*, uow: UnitOfWork, actor: Actor | None, post_id: int, lock: bool = True) -> Post:
    """Lock the post for writing; the caller must see it (else 404) and own it (else 403)."""
    actor = require(actor, "posts:write")
    stmt = select(Post).where(Post.id == post_id, visible_to(actor))
    post = uow.session.scalar(stmt.with_for_update(of=Post) if lock else stmt)
    if post is None:
        raise NotFound("post not found")
    if not (actor.is_admin or post.author_id == actor.user_id):
        raise Forbidden("only the author or an admin may change this post")
    return post


def _slug_taken(uow: UnitOfWork, post: Post, slug: str, actor: Actor | None) -> bool:
    """Whether a post the caller can see holds `slug` (someone else's draft does not count:
    drafts claim slugs only among their author's posts)."""
    clash = select(exists().where(Post.slug == slug, Post.id != post.id, _claims_from(post, actor)))
    return bool(uow.session.scalar(clash))


def _claims_from(post: Post, actor: Actor | None) -> ColumnElement[bool]:
    """The posts whose slugs `post` must not share: published ones, the author's own, and for
    an admin (who sees every draft) any post."""
    if actor is not None and actor.is_admin:
        return true()
    return or_(status_is("published"), Post.author_id == post.author_id)


def _save_with_slug(uow: UnitOfWork, post: Post, actor: Actor | None, *, given: str | None) -> None:
    """Flush `post` with a slug no post the caller can see holds; a generated one gets -2, -3, ...
    and retries on a race."""
    session = uow.session
    if inspect(post).persistent:
        # Flush the other changes first: a failed savepoint below expires what it flushed.
        session.flush()
    if given:
        if _slug_taken(uow, post, given, actor):
            raise Conflict("slug is already taken")
        post.slug = given
        try:
            with session.begin_nested():
                session.add(post)
        except IntegrityError:
            raise Conflict("slug is already taken")
        return
    base = slugify(post.title)
    for _ in range(SLUG_ATTEMPTS):
        post.slug = _next_free_slug(uow, base, _claims_from(post, actor))
        try:
            # A savepoint, so losing a race to a concurrent insert costs one retry, not the request.
            with session.begin_nested():
                session.add(post)
            return
        except IntegrityError:
            continue
    raise Conflict("could not find a free slug; give one explicitly")


def _next_free_slug(uow: UnitOfWork, base: str, claims: ColumnElement[bool]) -> str:
    similar = or_(Post.slug == base, Post.slug.startswith(f"{base}-", autoescape=True))
    taken = set(uow.session.scalars(select(Post.slug).where(similar, claims)))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
