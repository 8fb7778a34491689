from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from resources.base import created, endpoint, if_match, json_response, no_content, page_response
from resources.cache import CachePolicy
from resources.context import current_actor, uow
from schemas.comments import CommentCreate, CommentOut, CommentPage, CommentQuery, CommentUpdate
from schemas.posts import PostCreate, PostOut, PostPage, PostQuery, PostReplace, PostUpdate
from services import comments, posts

WRITE_ERRORS = (400, 401, 403, 404, 409, 412, 415, 422)


class PostList(Resource):
    cache_policy = CachePolicy("posts", invalidates=("posts", "comments"), counts=True)

    @endpoint(query=PostQuery, response=PostPage, errors=(401, 422))
    def get(self, query: PostQuery) -> Response:
        """Posts the caller may see: published ones, their own drafts (admins: all)."""
        rows, total, pages = posts.list_posts(uow=uow(), actor=current_actor(), query=query)
        return page_response(PostPage, [PostOut.model_validate(p) for p in rows], total, pages, query)

    @endpoint(
        body=PostCreate,
        response=PostOut,
        status=201,
        errors=(400, 401, 403, 409, 415, 422),
        auth="required",
        scope="posts:write",
    )
    def post(self, body: PostCreate) -> Response:
        """Write a post (draft by default); the slug comes from the title unless given."""
        post = posts.create(uow=uow(), actor=current_actor(), data=body)
        return created(PostOut.model_validate(post), url_for("post", post_id=post.id))


class PostDetail(Resource):
    cache_policy = CachePolicy("posts", invalidates=("posts", "comments"))

    @endpoint(response=PostOut, errors=(401, 404))
    def get(self, post_id: int) -> Response:
        """One post, if the caller may see it."""
        return json_response(
            PostOut.model_validate(posts.get_visible(uow=uow(), actor=current_actor(), post_id=post_id))
        )

    @endpoint(body=PostReplace, response=PostOut, errors=WRITE_ERRORS, auth="required", scope="posts:write")
    def put(self, post_id: int, body: PostReplace) -> Response:
        """Replace title, content and status (the slug stays unless given)."""
        post = posts.replace(
            uow=uow(),
            actor=current_actor(),
            post_id=post_id,
            data=body,
            precondition=if_match(PostOut.model_validate),
        )
        return json_response(PostOut.model_validate(post))

    @endpoint(body=PostUpdate, response=PostOut, errors=WRITE_ERRORS, auth="required", scope="posts:write")
    def patch(self, post_id: int, body: PostUpdate) -> Response:
        """Change some fields of a post."""
        post = posts.update(
            uow=uow(),
            actor=current_actor(),
            post_id=post_id,
            data=body,
            precondition=if_match(PostOut.model_validate),
        )
        return json_response(PostOut.model_validate(post))

    @endpoint(status=204, errors=(401, 403, 404, 412), auth="required", scope="posts:write")
    def delete(self, post_id: int) -> Response:
        """Delete a post and its comments (author or admin)."""
        posts.delete(
            uow=uow(), actor=current_actor(), post_id=post_id, precondition=if_match(PostOut.model_validate)
        )
        return no_content()


class PostComments(Resource):
    # comment_count lives in the posts: a comment write invalidates both.
    cache_policy = CachePolicy("comments", invalidates=("comments", "posts"), counts=True)

    @endpoint(query=CommentQuery, response=CommentPage, errors=(401, 404, 422))
    def get(self, post_id: int, query: CommentQuery) -> Response:
        """Comments of a visible post, oldest first."""
        rows, total, pages = comments.list_for_post(
            uow=uow(), actor=current_actor(), post_id=post_id, query=query
        )
        return page_response(CommentPage, [CommentOut.model_validate(c) for c in rows], total, pages, query)

    @endpoint(
        body=CommentCreate,
        response=CommentOut,
        status=201,
        errors=(400, 401, 403, 404, 415, 422),
        auth="required",
        scope="comments:write",
    )
    def post(self, post_id: int, body: CommentCreate) -> Response:
        """Comment on a visible post."""
        comment = comments.create(uow=uow(), actor=current_actor(), post_id=post_id, data=body)
        return created(CommentOut.model_validate(comment), url_for("comment", comment_id=comment.id))


class CommentDetail(Resource):
    cache_policy = CachePolicy("comments", invalidates=("comments", "posts"))

    @endpoint(response=CommentOut, errors=(401, 404))
    def get(self, comment_id: int) -> Response:
        """One comment, if its post is visible."""
        comment = comments.get_visible(uow=uow(), actor=current_actor(), comment_id=comment_id)
        return json_response(CommentOut.model_validate(comment))

    @endpoint(
        body=CommentUpdate, response=CommentOut, errors=WRITE_ERRORS, auth="required", scope="comments:write"
    )
    def patch(self, comment_id: int, body: CommentUpdate) -> Response:
        """Edit a comment (its author or an admin)."""
        comment = comments.update(
            uow=uow(),
            actor=current_actor(),
            comment_id=comment_id,
            data=body,
            precondition=if_match(CommentOut.model_validate),
        )
        return json_response(CommentOut.model_validate(comment))

    @endpoint(status=204, errors=(401, 403, 404, 412), auth="required", scope="comments:write")
    def delete(self, comment_id: int) -> Response:
        """Delete a comment (its author, the post's author, or an admin)."""
        comments.delete(
            uow=uow(),
            actor=current_actor(),
            comment_id=comment_id,
            precondition=if_match(CommentOut.model_validate),
        )
        return no_content()
