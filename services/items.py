"""The catalog: anyone reads, admins holding items:write change it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from models import Item
from schemas.items import ItemCreate, ItemImport, ItemImportResult, ItemQuery, ItemUpdate
from services import search
from services.actor import Actor, require
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.pagination import Paged, listing, order, paginate, resume
from services.uow import UnitOfWork

SORTS = {"name": Item.name, "price": Item.price, "created_at": Item.created_at, "updated_at": Item.updated_at}
Precondition = Callable[[object], None]


def list_items(*, uow: UnitOfWork, query: ItemQuery) -> Paged[Item]:
    query, position = resume(uow, "items", query)
    stmt = select(Item)
    if query.q:
        dialect = uow.session.get_bind().dialect.name
        stmt = stmt.where(search.item_substring(dialect, Item.name, Item.description, Item.id, query.q))
    if query.min_price is not None:
        stmt = stmt.where(Item.price >= query.min_price)
    if query.max_price is not None:
        stmt = stmt.where(Item.price <= query.max_price)
    if query.in_stock is not None:
        stmt = stmt.where(Item.stock > 0 if query.in_stock else Item.stock == 0)
    if query.updated_since is not None:
        stmt = stmt.where(Item.updated_at >= query.updated_since)
    after = position.after if position is not None else None
    shape = listing(stmt, order(SORTS, query.sort, Item.id), after=after)
    return paginate(uow, shape, query, list_name="items", position=position)


def get(*, uow: UnitOfWork, item_id: int, for_update: bool = False) -> Item:
    item = uow.session.get(Item, item_id, with_for_update=for_update or None)
    if item is None:
        raise NotFound("item not found")
    return item


def create(*, uow: UnitOfWork, actor: Actor | None, data: ItemCreate) -> Item:
    _require_editor(actor)
    item = Item(**data.model_dump())
    _save(uow, item)
    uow.commit()
    return item


def import_items(*, uow: UnitOfWork, actor: Actor | None, data: ItemImport) -> ItemImportResult:
    """Create or update items by SKU in one INSERT ... ON CONFLICT, all or nothing."""
    _require_editor(actor)
    skus = [item.sku for item in data.items]
    first: dict[str, int] = {}
    for i, sku in enumerate(skus):
        if sku in first:
            raise Invalid(
                f"SKU {sku} is also item {first[sku]}: each SKU once", loc=("body", "items", i, "sku")
            )
        first[sku] = i
    session = uow.session
    # Locked, so the counts hold against a concurrent import of the same SKUs (PostgreSQL).
    taken = {
        sku for sku in session.scalars(select(Item.sku).where(Item.sku.in_(skus)).with_for_update()) if sku
    }
    if data.on_conflict == "fail" and taken:
        raise Conflict(f"these SKUs exist already: {', '.join(sorted(taken))}")
    now = uow.now()
    rows = [{**item.model_dump(), "created_at": now, "updated_at": now} for item in data.items]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(Item).values(rows)
    if data.on_conflict == "update":
        fresh = upsert.excluded
        changes = {name: fresh[name] for name in ("name", "description", "price", "stock", "updated_at")}
        upsert = upsert.on_conflict_do_update(index_elements=[Item.sku], set_=changes)
    else:  # "fail" (a race with a concurrent insert is then a 409 below) or "skip"
        upsert = upsert.on_conflict_do_nothing(index_elements=[Item.sku])
    ids = dict(session.execute(upsert.returning(Item.sku, Item.id)).all())
    if data.on_conflict == "fail" and len(ids) < len(skus):
        raise Conflict(f"these SKUs exist already: {', '.join(sorted(set(skus) - set(ids)))}")
    if data.on_conflict == "skip" and taken:
        ids.update(session.execute(select(Item.sku, Item.id).where(Item.sku.in_(taken))).all())
    uow.commit()
    touched = len(taken)
    return ItemImportResult(
        created=len(skus) - touched,
        updated=touched if data.on_conflict == "update" else 0,
        skipped=touched if data.on_conflict == "skip" else 0,
        ids=[ids[sku] for sku in skus],
    )


def replace(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    item_id: int,
    data: ItemCreate,
    precondition: Precondition | None = None,
) -> Item:
    return _change(
        uow=uow, actor=actor, item_id=item_id, changes=data.model_dump(), precondition=precondition
    )


def update(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    item_id: int,
    data: ItemUpdate,
    precondition: Precondition | None = None,
) -> Item:
    changes = data.model_dump(exclude_unset=True)
    # null means "unchanged" for required fields; for sku it clears the code.
    changes = {k: v for k, v in changes.items() if v is not None or k == "sku"}
    return _change(uow=uow, actor=actor, item_id=item_id, changes=changes, precondition=precondition)


def delete(
    *, uow: UnitOfWork, actor: Actor | None, item_id: int, precondition: Precondition | None = None
) -> None:
    _require_editor(actor)
    item = get(uow=uow, item_id=item_id, for_update=True)
    if precondition:
        precondition(item)
    uow.session.delete(item)
    uow.commit()


def _change(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    item_id: int,
    changes: dict[str, Any],
    precondition: Precondition | None,
) -> Item:
    _require_editor(actor)
    item = get(uow=uow, item_id=item_id, for_update=True)
    if precondition:
        precondition(item)
    for field, value in changes.items():
        setattr(item, field, value)
    _save(uow, item)
    uow.commit()
    return item


def _save(uow: UnitOfWork, item: Item) -> None:
    if item.sku is not None and uow.session.scalar(
        select(exists().where(Item.sku == item.sku, Item.id != item.id))
    ):
        raise Conflict("sku is already taken")
    try:
        with uow.session.begin_nested():
            uow.session.add(item)
    except IntegrityError:  # a concurrent insert won the race for the sku
        raise Conflict("sku is already taken")


def _require_editor(actor: Actor | None) -> Actor:
    actor = require(actor, "items:write")
    if not actor.is_admin:
        raise Forbidden("only admins may change the catalog")
    return actor
