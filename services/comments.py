"""Comments live on visible posts; authors edit, authors/post authors/admins delete."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from models import Comment, Post
from schemas.comments import CommentCreate, CommentQuery, CommentUpdate
from services import posts
from services.actor import Actor, require
from services.errors import Forbidden, NotFound
from services.pagination import Paged, listing, order, paginate, resume
from services.uow import UnitOfWork

SORTS = {"created_at": Comment.created_at, "updated_at": Comment.updated_at}
Precondition = Callable[[object], None]


def list_for_post(
    *, uow: UnitOfWork, actor: Actor | None, post_id: int, query: CommentQuery
) -> Paged[Comment]:
    posts.get_visible(uow=uow, actor=actor, post_id=post_id)
    list_name = f"posts/{post_id}/comments"
    query, position = resume(uow, list_name, query)
    stmt = select(Comment).where(Comment.post_id == post_id)
    if query.updated_since is not None:
        stmt = stmt.where(Comment.updated_at >= query.updated_since)
    in_order = order(SORTS, query.sort, Comment.id)
    after = position.after if position is not None else None
    return paginate(uow, listing(stmt, in_order, after=after), query, list_name=list_name, position=position)


def get_visible(
    *, uow: UnitOfWork, actor: Actor | None, comment_id: int, for_update: bool = False
) -> Comment:
    """A comment is visible when its post is."""
    stmt = (
        select(Comment)
        .join(Post, Post.id == Comment.post_id)
        .where(Comment.id == comment_id, posts.visible_to(actor))
    )
    if for_update:
        stmt = stmt.with_for_update(of=Comment)
    comment = uow.session.scalar(stmt)
    if comment is None:
        raise NotFound("comment not found")
    return comment


def create(*, uow: UnitOfWork, actor: Actor | None, post_id: int, data: CommentCreate) -> Comment:
    actor = require(actor, "comments:write")
    posts.get_visible(uow=uow, actor=actor, post_id=post_id)
    comment = Comment(post_id=post_id, author_id=actor.user_id, content=data.content)
    uow.session.add(comment)
    uow.commit()
    return comment


def update(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    comment_id: int,
    data: CommentUpdate,
    precondition: Precondition | None = None,
) -> Comment:
    actor = require(actor, "comments:write")
    comment = get_visible(uow=uow, actor=actor, comment_id=comment_id, for_update=True)
    if not (actor.is_admin or comment.author_id == actor.user_id):
        raise Forbidden("only the comment's author or an admin may edit it")
    if precondition:
        precondition(comment)
    comment.content = data.content
    uow.commit()
    return comment


def delete(
    *, uow: UnitOfWork, actor: Actor | None, comment_id: int, precondition: Precondition | None = None
) -> int:
    """Delete and return the post id (its comment_count changed)."""
    actor = require(actor, "comments:write")
    comment = get_visible(uow=uow, actor=actor, comment_id=comment_id, for_update=True)
    post_author_id = uow.session.scalar(select(Post.author_id).where(Post.id == comment.post_id))
    if not (actor.is_admin or actor.user_id in (comment.author_id, post_author_id)):
        raise Forbidden("only the comment's author, the post's author or an admin may delete it")
    if precondition:
        precondition(comment)
    post_id = comment.post_id
    uow.session.delete(comment)
    uow.commit()
    return post_id
