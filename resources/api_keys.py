from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from resources.base import created, endpoint, if_match, json_response, no_content, page_response
from resources.context import current_actor, state, uow
from schemas.auth import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ApiKeyPage, ApiKeyQuery, ApiKeyUpdate
from services import api_keys


class ApiKeyList(Resource):
    @endpoint(query=ApiKeyQuery, response=ApiKeyPage, errors=(401, 403, 422), auth="required")
    def get(self, query: ApiKeyQuery) -> Response:
        """The caller's keys (admins: `?all=true` for everyone's). Secrets are never shown again."""
        rows, total, pages = api_keys.list_keys(uow=uow(), actor=current_actor(), query=query)
        return page_response(ApiKeyPage, [ApiKeyOut.model_validate(k) for k in rows], total, pages, query)

    @endpoint(
        body=ApiKeyCreate,
        response=ApiKeyCreated,
        status=201,
        errors=(400, 401, 403, 415, 422),
        auth="required",
        scope="keys:write",
    )
    def post(self, body: ApiKeyCreate) -> Response:
        """Create a key; the response is the only time `key` (the secret) is shown."""
        key, secret = api_keys.create(
            uow=uow(), actor=current_actor(), data=body, tiers=state().settings.rate_limit.tiers
        )
        out = ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(key).model_dump(), "key": secret})
        response = created(out, url_for("api_key", key_id=key.id))
        response.headers["Cache-Control"] = "no-store"
        return response


class ApiKeyDetail(Resource):
    @endpoint(response=ApiKeyOut, errors=(401, 403, 404), auth="required")
    def get(self, key_id: int) -> Response:
        """One key (owner or admin), without its secret."""
        return json_response(
            ApiKeyOut.model_validate(api_keys.get(uow=uow(), actor=current_actor(), key_id=key_id))
        )

    @endpoint(
        body=ApiKeyUpdate,
        response=ApiKeyOut,
        errors=(400, 401, 403, 404, 412, 415, 422),
        auth="required",
        scope="keys:write",
    )
    def patch(self, key_id: int, body: ApiKeyUpdate) -> Response:
        """Admins move a key to another configured tier."""
        key = api_keys.set_tier(
            uow=uow(),
            actor=current_actor(),
            key_id=key_id,
            data=body,
            tiers=state().settings.rate_limit.tiers,
            precondition=if_match(ApiKeyOut.model_validate),
        )
        return json_response(ApiKeyOut.model_validate(key))

    @endpoint(status=204, errors=(401, 403, 404, 412), auth="required", scope="keys:write")
    def delete(self, key_id: int) -> Response:
        """Revoke a key at once (owner or admin)."""
        api_keys.revoke(
            uow=uow(), actor=current_actor(), key_id=key_id, precondition=if_match(ApiKeyOut.model_validate)
        )
        return no_content()
