"""Users: the caller's own account, public profiles, and admin account management."""

from __future__ import annotations

from flask import Response
from flask_restful import Resource

from models import User
from schemas.users import MeUpdate, UserAdminUpdate, UserOut, UserPage, UserPrivateOut, UserQuery
from services import users
from web.context import current_actor, uow
from web.contract import (
    Access,
    CachePolicy,
    if_match,
    json_response,
    no_content,
    operation,
    page_response,
)
from web.versions import RESPONSES, Namespace

# The private shape first: a client tries it, then falls back to the public one.
EITHER_USER = (UserPrivateOut, UserOut)


def user_view(user: User) -> UserOut:
    """Email and updated_at only for the user themself and admins."""
    if users.sees_private(current_actor(), user):
        return UserPrivateOut.model_validate(user)
    return UserOut.model_validate(user)


class Me(Resource):
    # Not cached: two admins share a visibility class, but /me is each one's own.
    @operation(access=Access.CREDENTIAL, scope="read", response=UserPrivateOut)
    def get(self) -> Response:
        """Get my account."""
        return json_response(UserPrivateOut.model_validate(users.me(uow=uow(), actor=current_actor())))

    @operation(
        access=Access.CREDENTIAL,
        body=MeUpdate,
        response=UserPrivateOut,
        errors=(409,),
        limits=("password",),  # a current_password is checked under the login limits
        invalidates=(Namespace.USERS,),
    )
    def patch(self, body: MeUpdate) -> Response:
        """Update my account.

        Bio, email, or the password with current_password (wrong: 403; other logins end). A
        request with current_password counts under the login limits, like a login. An API
        key needs a scope beyond `read` and may change the bio only; email and password need a
        bearer token.
        """
        user = users.update_me(
            uow=uow(),
            actor=current_actor(),
            data=body,
            precondition=if_match(UserPrivateOut.model_validate),
        )
        return json_response(UserPrivateOut.model_validate(user))


class UserList(Resource):
    @operation(query=UserQuery, response=UserPage, cache=CachePolicy(Namespace.USERS, counts=True))
    def get(self, query: UserQuery) -> Response:
        """List users.

        `q` filters on the username. Private fields only for the caller themself and admins.
        """
        paged = users.list_users(uow=uow(), query=query)
        return page_response(UserPage, paged, [user_view(u) for u in paged.rows])


class UserDetail(Resource):
    @operation(response=EITHER_USER, errors=(404,), cache=CachePolicy(Namespace.USERS))
    def get(self, user_id: int) -> Response:
        """Get a user.

        The public profile; email and updated_at too for the user themself and admins.
        """
        return json_response(user_view(users.get(uow=uow(), user_id=user_id)))

    @operation(
        access=Access.BEARER,
        admin=True,
        body=UserAdminUpdate,
        response=EITHER_USER,
        errors=(404,),
        invalidates=(Namespace.USERS,),
    )
    def patch(self, user_id: int, body: UserAdminUpdate) -> Response:
        """Change a user's role or bio.

        Admins only, with a bearer token.
        """
        user = users.admin_update(
            uow=uow(), actor=current_actor(), user_id=user_id, data=body, precondition=if_match(user_view)
        )
        return json_response(user_view(user))

    # A deleted user takes their posts, comments and keys along.
    @operation(access=Access.BEARER, status=204, errors=(404,), invalidates=RESPONSES)
    def delete(self, user_id: int) -> Response:
        """Delete a user.

        Their posts, comments and keys go too. The user themself or an admin, with a bearer token.
        """
        users.delete(uow=uow(), actor=current_actor(), user_id=user_id, precondition=if_match(user_view))
        return no_content()
