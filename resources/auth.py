"""Accounts and sessions: register, log in, rotate the refresh token, log out."""

from __future__ import annotations

from flask import Response, request, url_for
from flask_restful import Resource

from schemas.auth import LoginIn, LogoutIn, RefreshIn, TokenPair
from schemas.users import UserPrivateOut, UserRegister
from services import auth
from web.context import current_actor, uow
from web.contract import Access, created, json_response, no_content, operation
from web.versions import Namespace

NO_STORE = {"Cache-Control": "no-store"}


class Register(Resource):
    @operation(
        body=UserRegister, response=UserPrivateOut, status=201, errors=(409,), invalidates=(Namespace.USERS,)
    )
    def post(self, body: UserRegister) -> Response:
        """Create an account.

        Username and email are unique ignoring case (409).
        """
        user = auth.register(uow=uow(), data=body)
        return created(UserPrivateOut.model_validate(user), url_for("user", user_id=user.id))


class Login(Resource):
    # Not idempotent: a stored token pair must never be handed to a second caller.
    @operation(body=LoginIn, response=TokenPair, limits=("login",), idempotent=False)
    def post(self, body: LoginIn) -> Response:
        """Log in.

        A username (or email) and password for an access and a refresh token. The login limit
        counts per client address and per account, on top of the caller's budget.
        """
        pair = auth.login(uow=uow(), data=body, address=request.remote_addr)
        return json_response(TokenPair.model_validate(pair), headers=NO_STORE)


class Refresh(Resource):
    # Not idempotent: a spent refresh token stays spent; a replay would hand out the live pair.
    @operation(body=RefreshIn, response=TokenPair, idempotent=False)
    def post(self, body: RefreshIn) -> Response:
        """Rotate a refresh token.

        A new pair; the token sent is spent. Sending a spent one again revokes its whole login.
        """
        pair = auth.refresh(uow=uow(), refresh_token=body.refresh_token)
        return json_response(TokenPair.model_validate(pair), headers=NO_STORE)


class Logout(Resource):
    # Not idempotent: a replay would answer 204 and leave the new token it was sent with alive.
    @operation(access=Access.BEARER, body=LogoutIn, status=204, idempotent=False)
    def post(self, body: LogoutIn) -> Response:
        """Log out.

        The login this access token belongs to ends now: its refresh token and every access token
        it issued stop working, and the login of a refresh token sent in the body too.
        """
        auth.logout(uow=uow(), actor=current_actor(), refresh_token=body.refresh_token)
        return no_content()
