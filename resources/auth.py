"""Accounts and sessions: register, log in, rotate the refresh token, log out."""

from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from resources.base import created, endpoint, json_response, no_content
from resources.cache import CachePolicy
from resources.context import current_actor, state, uow
from schemas.auth import LoginIn, LogoutIn, RefreshIn, TokenPair
from schemas.users import UserPrivateOut, UserRegister
from services import auth


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
            actor=current_actor(),
            refresh_token=body.refresh_token,
        )
        return no_content()
