"""Posts: what the caller may see, and their authors' edits."""

from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from schemas.posts import PostCreate, PostOut, PostPage, PostQuery, PostReplace, PostUpdate
from services import posts
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

# comment_count lives in the posts: a post write invalidates comments' pages too, and back.
TOUCHES = (Namespace.POSTS, Namespace.COMMENTS)


class PostList(Resource):
    @operation(query=PostQuery, response=PostPage, cache=CachePolicy(Namespace.POSTS, counts=True))
    def get(self, query: PostQuery) -> Response:
        """List posts.

        Published posts, plus the caller's own drafts (admins: every post).
        """
        return page_response(PostPage, posts.list_posts(uow=uow(), actor=current_actor(), query=query))

    @operation(
        access=Access.CREDENTIAL,
        scope="posts:write",
        body=PostCreate,
        response=PostOut,
        status=201,
        errors=(409,),
        invalidates=TOUCHES,
    )
    def post(self, body: PostCreate) -> Response:
        """Write a post.

        A draft by default; the slug comes from the title unless given (409 if one of your posts or
        a published post has it; other people's drafts do not count).
        """
        post = posts.create(uow=uow(), actor=current_actor(), data=body)
        return created(PostOut.model_validate(post), url_for("post", post_id=post.id))


class PostDetail(Resource):
    @operation(response=PostOut, errors=(404,), cache=CachePolicy(Namespace.POSTS))
    def get(self, post_id: int) -> Response:
        """Get a post.

        404 unless the caller may see it (someone else's draft does not leak).
        """
        post = posts.get_visible(uow=uow(), actor=current_actor(), post_id=post_id)
        return json_response(PostOut.model_validate(post))

    @operation(
        access=Access.CREDENTIAL,
        scope="posts:write",
        body=PostReplace,
        response=PostOut,
        errors=(404, 409),
        invalidates=TOUCHES,
    )
    def put(self, post_id: int, body: PostReplace) -> Response:
        """Replace a post.

        Title, content and status; the slug stays unless given. Author or admin. Publishing a
        draft whose slug a published post has is a 409: send a new slug with the status.
        """
        post = posts.replace(
            uow=uow(),
            actor=current_actor(),
            post_id=post_id,
            data=body,
            precondition=if_match(PostOut.model_validate),
        )
        return json_response(PostOut.model_validate(post))

    @operation(
        access=Access.CREDENTIAL,
        scope="posts:write",
        body=PostUpdate,
        response=PostOut,
        errors=(404, 409),
        invalidates=TOUCHES,
    )
    def patch(self, post_id: int, body: PostUpdate) -> Response:
        """Update a post.

        Any of title, content, status and slug. Author or admin. Publishing a draft whose slug a
        published post has is a 409: send a new slug with the status.
        """
        post = posts.update(
            uow=uow(),
            actor=current_actor(),
            post_id=post_id,
            data=body,
            precondition=if_match(PostOut.model_validate),
        )
        return json_response(PostOut.model_validate(post))

    @operation(access=Access.CREDENTIAL, scope="posts:write", status=204, errors=(404,), invalidates=TOUCHES)
    def delete(self, post_id: int) -> Response:
        """Delete a post.

        The post and its comments go. Author or admin.
        """
        posts.delete(
            uow=uow(), actor=current_actor(), post_id=post_id, precondition=if_match(PostOut.model_validate)
        )
        return no_content()
