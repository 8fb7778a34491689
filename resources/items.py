"""The product catalog: public reads, admin writes."""

from __future__ import annotations

from flask import Response, url_for
from flask_restful import Resource

from schemas.items import ItemCreate, ItemImport, ItemImportResult, ItemOut, ItemPage, ItemQuery, ItemUpdate
from services import items
from web.context import current_actor, uow
from web.contract import (
    Access,
    CachePolicy,
    Shared,
    created,
    if_match,
    json_response,
    no_content,
    operation,
    page_response,
)
from web.versions import Namespace

# Catalog writes: an admin's bearer token, or an admin's key with items:write.
EDIT: Shared = {
    "access": Access.CREDENTIAL,
    "scope": "items:write",
    "admin": True,
    "invalidates": (Namespace.ITEMS,),
}


class ItemList(Resource):
    @operation(
        query=ItemQuery, response=ItemPage, cache=CachePolicy(Namespace.ITEMS, public=True, counts=True)
    )
    def get(self, query: ItemQuery) -> Response:
        """List items.

        The catalog, with text, price and stock filters.
        """
        return page_response(ItemPage, items.list_items(uow=uow(), query=query))

    @operation(body=ItemCreate, response=ItemOut, status=201, errors=(409,), **EDIT)
    def post(self, body: ItemCreate) -> Response:
        """Add an item.

        Admins only; a taken sku is a 409.
        """
        item = items.create(uow=uow(), actor=current_actor(), data=body)
        return created(ItemOut.model_validate(item), url_for("item", item_id=item.id))


class ItemImportList(Resource):
    @operation(body=ItemImport, response=ItemImportResult, errors=(409,), **EDIT)
    def post(self, body: ItemImport) -> Response:
        """Import items.

        Up to 1,000 items matched by SKU, all or nothing: `on_conflict` says what an item whose SKU
        exists does (`update`: takes this item's fields, as PUT; `skip`; `fail`: a 409 naming
        the SKUs). `ids` holds each input item's id, in input order.
        """
        return json_response(items.import_items(uow=uow(), actor=current_actor(), data=body))


class ItemDetail(Resource):
    @operation(response=ItemOut, errors=(404,), cache=CachePolicy(Namespace.ITEMS, public=True))
    def get(self, item_id: int) -> Response:
        """Get an item."""
        return json_response(ItemOut.model_validate(items.get(uow=uow(), item_id=item_id)))

    @operation(body=ItemCreate, response=ItemOut, errors=(404, 409), **EDIT)
    def put(self, item_id: int, body: ItemCreate) -> Response:
        """Replace an item.

        Admins only.
        """
        item = items.replace(
            uow=uow(),
            actor=current_actor(),
            item_id=item_id,
            data=body,
            precondition=if_match(ItemOut.model_validate),
        )
        return json_response(ItemOut.model_validate(item))

    @operation(body=ItemUpdate, response=ItemOut, errors=(404, 409), **EDIT)
    def patch(self, item_id: int, body: ItemUpdate) -> Response:
        """Update an item.

        Admins only.
        """
        item = items.update(
            uow=uow(),
            actor=current_actor(),
            item_id=item_id,
            data=body,
            precondition=if_match(ItemOut.model_validate),
        )
        return json_response(ItemOut.model_validate(item))

    @operation(status=204, errors=(404,), **EDIT)
    def delete(self, item_id: int) -> Response:
        """Delete an item.

        Admins only.
        """
        items.delete(
            uow=uow(), actor=current_actor(), item_id=item_id, precondition=if_match(ItemOut.model_validate)
        )
        return no_content()
