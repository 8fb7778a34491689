from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from resources.base import created, endpoint, if_match, json_response, no_content, page_response
from resources.cache import CachePolicy
from resources.context import current_actor, uow
from schemas.items import ItemCreate, ItemOut, ItemPage, ItemQuery, ItemUpdate
from services import items

WRITE_ERRORS = (400, 401, 403, 404, 409, 412, 415, 422)


class ItemList(Resource):
    cache_policy = CachePolicy("items", invalidates=("items",), public=True, counts=True)

    @endpoint(query=ItemQuery, response=ItemPage, errors=(401, 422))
    def get(self, query: ItemQuery) -> Response:
        """The catalog, with price and stock filters."""
        rows, total, pages = items.list_items(uow=uow(), query=query)
        return page_response(ItemPage, [ItemOut.model_validate(i) for i in rows], total, pages, query)

    @endpoint(
        body=ItemCreate,
        response=ItemOut,
        status=201,
        errors=(400, 401, 403, 409, 415, 422),
        auth="required",
        scope="items:write",
    )
    def post(self, body: ItemCreate) -> Response:
        """Add an item (admins with items:write)."""
        item = items.create(uow=uow(), actor=current_actor(), data=body)
        return created(ItemOut.model_validate(item), url_for("item", item_id=item.id))


class ItemDetail(Resource):
    cache_policy = CachePolicy("items", invalidates=("items",), public=True)

    @endpoint(response=ItemOut, errors=(401, 404))
    def get(self, item_id: int) -> Response:
        """One item."""
        return json_response(ItemOut.model_validate(items.get(uow=uow(), item_id=item_id)))

    @endpoint(body=ItemCreate, response=ItemOut, errors=WRITE_ERRORS, auth="required", scope="items:write")
    def put(self, item_id: int, body: ItemCreate) -> Response:
        """Replace an item."""
        item = items.replace(
            uow=uow(),
            actor=current_actor(),
            item_id=item_id,
            data=body,
            precondition=if_match(ItemOut.model_validate),
        )
        return json_response(ItemOut.model_validate(item))

    @endpoint(body=ItemUpdate, response=ItemOut, errors=WRITE_ERRORS, auth="required", scope="items:write")
    def patch(self, item_id: int, body: ItemUpdate) -> Response:
        """Change some fields of an item."""
        item = items.update(
            uow=uow(),
            actor=current_actor(),
            item_id=item_id,
            data=body,
            precondition=if_match(ItemOut.model_validate),
        )
        return json_response(ItemOut.model_validate(item))

    @endpoint(status=204, errors=(401, 403, 404, 412), auth="required", scope="items:write")
    def delete(self, item_id: int) -> Response:
        """Remove an item."""
        items.delete(
            uow=uow(), actor=current_actor(), item_id=item_id, precondition=if_match(ItemOut.model_validate)
        )
        return no_content()
