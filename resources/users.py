from __future__ import annotations

from flask import Response
from flask_restful import Resource

from models import User
from resources.base import endpoint, if_match, json_response, no_content, page_response
from resources.cache import EVERYTHING, CachePolicy
from resources.context import current_actor, state, uow
from schemas.users import (
    MeUpdate,
    UserAdminUpdate,
    UserOut,
    UserPage,
    UserPrivateOut,
    UserQuery,
)
from services import users


def user_view(user: User) -> UserOut:
    """Email and updated_at only for the user themself and admins."""
    if users.sees_private(current_actor(), user):
        return UserPrivateOut.model_validate(user)
    return UserOut.model_validate(user)


class Me(Resource):
    # Not cached: two admins share a visibility class, but /me is each one's own.
    cache_policy = CachePolicy(invalidates=("users",))

    @endpoint(response=UserPrivateOut, errors=(401,), auth="required")
    def get(self) -> Response:
        """The caller's own account."""
        return json_response(UserPrivateOut.model_validate(users.me(uow=uow(), actor=current_actor())))

    @endpoint(
        body=MeUpdate, response=UserPrivateOut, errors=(400, 401, 403, 409, 412, 415, 422), auth="required"
    )
    def patch(self, body: MeUpdate) -> Response:
        """Change bio or email; change the password with current_password (ends other logins)."""
        container = state()
        user = users.update_me(
            uow=uow(),
            tokens=container.tokens,
            actor=current_actor(),
            data=body,
            precondition=if_match(UserPrivateOut.model_validate),
        )
        return json_response(UserPrivateOut.model_validate(user))


class UserList(Resource):
    cache_policy = CachePolicy("users", counts=True)

    @endpoint(query=UserQuery, response=UserPage, errors=(422,))
    def get(self, query: UserQuery) -> Response:
        """List users; `q` filters on the username."""
        rows, total, pages = users.list_users(uow=uow(), query=query)
        return page_response(UserPage, [user_view(u) for u in rows], total, pages, query)


class UserDetail(Resource):
    # A deleted user takes their posts and comments along.
    cache_policy = CachePolicy("users", invalidates=EVERYTHING)

    @endpoint(response=UserPrivateOut, errors=(404,))
    def get(self, user_id: int) -> Response:
        """One user (private fields for the user themself and admins)."""
        return json_response(user_view(users.get(uow=uow(), user_id=user_id)))

    @endpoint(
        body=UserAdminUpdate,
        response=UserPrivateOut,
        errors=(400, 401, 403, 404, 412, 415, 422),
        auth="required",
    )
    def patch(self, user_id: int, body: UserAdminUpdate) -> Response:
        """Admins change a user's role or bio."""
        user = users.admin_update(
            uow=uow(), actor=current_actor(), user_id=user_id, data=body, precondition=if_match(user_view)
        )
        return json_response(user_view(user))

    @endpoint(status=204, errors=(401, 403, 404, 412), auth="required")
    def delete(self, user_id: int) -> Response:
        """Delete a user with their posts, comments and keys (self or admin)."""
        users.delete(uow=uow(), actor=current_actor(), user_id=user_id, precondition=if_match(user_view))
        return no_content()
