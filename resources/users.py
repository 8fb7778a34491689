from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from models import User
from resources.base import created, endpoint, if_match, json_response, no_content, page_response
from resources.cache import EVERYTHING, CachePolicy
from resources.context import current_actor, state, uow
from schemas.auth import LoginIn, LogoutIn, RefreshIn, TokenPair
from schemas.users import (
    MeUpdate,
    UserAdminUpdate,
    UserOut,
    UserPage,
    UserPrivateOut,
    UserQuery,
    UserRegister,
)
from services import auth, users


def user_view(user: User) -> UserOut:
    """Email and updated_at only for the user themself and admins."""
    if users.sees_private(current_actor(), user):
        return UserPrivateOut.model_validate(user)
    return UserOut.model_validate(user)


class Register(Resource):
    cache_policy = CachePolicy(invalidates=("users",))

    @endpoint(body=UserRegister, response=UserPrivateOut, status=201, errors=(400, 409, 415, 422))
    def post(self, body: UserRegister) -> Response:
        """Create an account."""
        user = auth.register(uow=uow(), data=body)
        return created(UserPrivateOut.model_validate(user), url_for("user", user_id=user.id))


class Login(Resource):
    @endpoint(body=LoginIn, response=TokenPair, errors=(400, 401, 415, 422))
    def post(self, body: LoginIn) -> Response:
        """Exchange a username (or email) and password for an access and a refresh token."""
        container = state()
        pair = auth.login(
            uow=uow(),
            tokens=container.tokens,
            refresh_ttl=container.settings.auth.refresh_ttl_seconds,
            data=body,
        )
        return json_response(TokenPair.model_validate(pair), headers={"Cache-Control": "no-store"})


class Refresh(Resource):
    @endpoint(body=RefreshIn, response=TokenPair, errors=(400, 401, 415, 422))
    def post(self, body: RefreshIn) -> Response:
        """Rotate a refresh token: a new pair; the one sent is spent."""
        container = state()
        pair = auth.refresh(
            uow=uow(),
            tokens=container.tokens,
            denylist=container.denylist,
            refresh_ttl=container.settings.auth.refresh_ttl_seconds,
            refresh_token=body.refresh_token,
        )
        return json_response(TokenPair.model_validate(pair), headers={"Cache-Control": "no-store"})


class Logout(Resource):
    @endpoint(body=LogoutIn, status=204, errors=(400, 401, 415, 422), auth="required")
    def post(self, body: LogoutIn) -> Response:
        """End this access token now, and the refresh token's login if one is sent."""
        container = state()
        auth.logout(
            uow=uow(),
            tokens=container.tokens,
            denylist=container.denylist,
            actor=current_actor(),
            refresh_token=body.refresh_token,
        )
        return no_content()


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
            denylist=container.denylist,
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
