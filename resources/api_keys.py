"""API keys: created by their owner, shown once, revoked at once."""

from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from schemas.auth import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyPage, ApiKeyQuery, ApiKeyUpdate
from services import api_keys
from web.context import current_actor, uow
from web.contract import Access, created, if_match, json_response, no_content, operation, page_response


class ApiKeyList(Resource):
    @operation(access=Access.CREDENTIAL, scope="read", query=ApiKeyQuery, response=ApiKeyPage)
    def get(self, query: ApiKeyQuery) -> Response:
        """List my API keys.

        Admins may add `all=true` for everyone's. Secrets are never shown again.
        """
        return page_response(ApiKeyPage, api_keys.list_keys(uow=uow(), actor=current_actor(), query=query))

    @operation(
        access=Access.CREDENTIAL, scope="keys:write", body=ApiKeyCreate, response=ApiKeyCreated, status=201
    )
    def post(self, body: ApiKeyCreate) -> Response:
        """Create an API key.

        The response is the only time `key`, the secret, is shown. A key never carries a scope
        its owner (or the key creating it) lacks, nor outlives the key creating it.
        """
        key, secret = api_keys.create(uow=uow(), actor=current_actor(), data=body)
        out = ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": secret})
        response = created(out, url_for("api_key", key_id=key.id))
        response.headers["Cache-Control"] = "no-store"
        return response


class ApiKeyDetail(Resource):
    @operation(access=Access.CREDENTIAL, scope="read", response=ApiKeyOut, errors=(404,))
    def get(self, key_id: int) -> Response:
        """Get an API key.

        Owner or admin, without its secret.
        """
        return json_response(
            ApiKeyOut.model_validate(api_keys.get(uow=uow(), actor=current_actor(), key_id=key_id))
        )

    @operation(
        access=Access.CREDENTIAL,
        scope="keys:write",
        admin=True,
        body=ApiKeyUpdate,
        response=ApiKeyOut,
        errors=(404,),
    )
    def patch(self, key_id: int, body: ApiKeyUpdate) -> Response:
        """Move an API key to another tier.

        Admins only; tiers come from configuration.
        """
        key = api_keys.set_tier(
            uow=uow(),
            actor=current_actor(),
            key_id=key_id,
            data=body,
            precondition=if_match(ApiKeyOut.model_validate),
        )
        return json_response(ApiKeyOut.model_validate(key))

    @operation(access=Access.CREDENTIAL, scope="keys:write", status=204, errors=(404,))
    def delete(self, key_id: int) -> Response:
        """Revoke an API key.

        At once. Owner or admin.
        """
        api_keys.revoke(
            uow=uow(), actor=current_actor(), key_id=key_id, precondition=if_match(ApiKeyOut.model_validate)
        )
        return no_content()
