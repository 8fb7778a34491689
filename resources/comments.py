"""Comments on visible posts."""

from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from schemas.comments import CommentCreate, CommentOut, CommentPage, CommentQuery, CommentUpdate
from services import comments
from web.context import current_actor, uow
from web.contract import (
    Access,
    CachePolicy,
    created,
    if_match,
    json_response,
    no_content,
    operation,
    page_response,
)
from web.versions import Namespace

# comment_count lives in the posts: a comment write invalidates both.
TOUCHES = (Namespace.COMMENTS, Namespace.POSTS)


class PostComments(Resource):
    @operation(
        query=CommentQuery,
        response=CommentPage,
        errors=(404,),
        cache=CachePolicy(Namespace.COMMENTS, counts=True),
    )
    def get(self, post_id: int, query: CommentQuery) -> Response:
        """List a post's comments.

        Comments of a visible post, oldest first.
        """
        paged = comments.list_for_post(uow=uow(), actor=current_actor(), post_id=post_id, query=query)
        return page_response(CommentPage, paged)

    @operation(
        access=Access.CREDENTIAL,
        scope="comments:write",
        body=CommentCreate,
        response=CommentOut,
        status=201,
        errors=(404,),
        invalidates=TOUCHES,
    )
    def post(self, post_id: int, body: CommentCreate) -> Response:
        """Comment on a post.

        The post must be visible to the caller.
        """
        comment = comments.create(uow=uow(), actor=current_actor(), post_id=post_id, data=body)
        return created(CommentOut.model_validate(comment), url_for("comment", comment_id=comment.id))


class CommentDetail(Resource):
    @operation(response=CommentOut, errors=(404,), cache=CachePolicy(Namespace.COMMENTS))
    def get(self, comment_id: int) -> Response:
        """Get a comment.

        404 unless its post is visible to the caller.
        """
        comment = comments.get_visible(uow=uow(), actor=current_actor(), comment_id=comment_id)
        return json_response(CommentOut.model_validate(comment))

    @operation(
        access=Access.CREDENTIAL,
        scope="comments:write",
        body=CommentUpdate,
        response=CommentOut,
        errors=(404,),
        invalidates=TOUCHES,
    )
    def patch(self, comment_id: int, body: CommentUpdate) -> Response:
        """Edit a comment.

        Its author or an admin.
        """
        comment = comments.update(
            uow=uow(),
            actor=current_actor(),
            comment_id=comment_id,
            data=body,
            precondition=if_match(CommentOut.model_validate),
        )
        return json_response(CommentOut.model_validate(comment))

    @operation(
        access=Access.CREDENTIAL, scope="comments:write", status=204, errors=(404,), invalidates=TOUCHES
    )
    def delete(self, comment_id: int) -> Response:
        """Delete a comment.

        Its author, the post's author, or an admin.
        """
        comments.delete(
            uow=uow(),
            actor=current_actor(),
            comment_id=comment_id,
            precondition=if_match(CommentOut.model_validate),
        )
        return no_content()
