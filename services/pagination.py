from __future__ import annotations

import math
import operator
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import reduce
from typing import Any, Generic, Literal, TypeVar

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, select, tuple_, union_all

from schemas.common import PageQuery
from services.cursors import LOC
from services.errors import Invalid
from services.uow import UnitOfWork

# What a list query reads on from: the first row (offset paging), or past a cursor's position,
# whose sort key is a value or NULL (NULLs sort last, so only NULL-keyed rows remain).
After = Literal["value", "null"] | None
PAGE_FIELDS = {"page", "per_page", "cursor"}


@dataclass(frozen=True, slots=True)
class Listing:
    """A list query's two statements; the page bounds are the bound parameters `limit`, `offset`
    and `reach` (offset + limit).

    Built per call, a Listing costs what building its statements costs. Kept and reused for one
    shape of query, with the filter values bound too, it skips SQLAlchemy's construction and
    cache-key work, a large share of a list page (docs/performance.md).
    """

    count: Select[Any]
    page: Select[Any]  # the rows, each with its sort key last (labelled SORT_KEY on plain rows)
    plain: bool  # the page holds plain rows (dicts), not ORM objects


SORT_KEY = "_sort_key"


@dataclass(frozen=True, slots=True)
class Order:
    """ORDER BY one whitelisted column, with the id as a stable tiebreak; NULLs last both ways."""

    column: Any
    tiebreak: Any
    descending: bool

    def by(self, column: Any = None, tiebreak: Any = None) -> list[Any]:
        """The ORDER BY clauses, on the entity's columns or on the same two of a subquery."""
        first = self.column if column is None else column
        tiebreak = self.tiebreak if tiebreak is None else tiebreak
        first = first.desc() if self.descending else first.asc()
        # Only where NULLs can occur: PostgreSQL reads an index backwards as DESC NULLS FIRST, so
        # `DESC NULLS LAST` on a NOT NULL column made it sort every row for each page instead of
        # scanning the index.
        if getattr(self.column.expression, "nullable", True):  # an expression: assume it can
            first = first.nulls_last()
        return [first, tiebreak.desc() if self.descending else tiebreak.asc()]

    def after(self, key: Any, row_id: Any, after: After) -> tuple[ColumnElement[bool], ...]:
        """The rows that come after the row (`key`, `row_id`) in this order, as disjoint
        conditions each an index range: an OR with the NULL-keyed rows would make both
        databases scan the index from its start to the position."""
        later = operator.lt if self.descending else operator.gt
        if after == "null":  # past every non-NULL key already: only NULL-keyed rows remain
            return (and_(self.column.is_(None), later(self.tiebreak, row_id)),)
        # A row value, which both databases match against the covering (sort, id) indexes.
        beyond: ColumnElement[bool] = later(tuple_(self.column, self.tiebreak), tuple_(key, row_id))
        if getattr(self.column.expression, "nullable", True):
            return beyond, self.column.is_(None)
        return (beyond,)


def listing(
    stmt: Select[Any],
    in_order: Order,
    *,
    rows: Select[Any] | None = None,
    parts: tuple[ColumnElement[bool], ...] = (),
    after: After = None,
) -> Listing:
    """`stmt` selects one entity, filtered. A page holds those entities in order, or, when `rows`
    is given (columns of that entity and the joins they need), plain rows of those columns.

    `parts`, when given, are disjoint conditions: the list is what `stmt` selects under any of
    them (a signed-in reader's posts: the published ones, and their own others).

    `after` reads on from a cursor's position, the bound parameters `after_key` and `after_id`
    (keyset: the same index range at any depth); the offset is then 0.
    """
    entity = stmt.column_descriptions[0]["entity"]
    branches = [stmt.where(part) for part in parts] or [stmt]
    # Same FROM and WHERE, only count(*): no ORDER BY, eager joins or comment_count subquery.
    # Disjoint parts add up; each is counted from its own index. Counted before the position
    # applies: a cursor page's total is the whole list's.
    counts = [b.with_only_columns(func.count(), maintain_column_froms=True) for b in branches]
    if after is not None:
        key = bindparam("after_key", type_=in_order.column.type)
        past = in_order.after(key, bindparam("after_id"), after)
        branches = [branch.where(condition) for branch in branches for condition in past]
    sort_key = in_order.column.label("sort_key")
    if len(counts) == 1:
        count = counts[0]
    else:
        count = select(reduce(operator.add, [c.scalar_subquery() for c in counts]))
    # Deferred join: the page's ids come from the index alone, then only those rows are loaded
    # with their joins and counts. A plain OFFSET would load and join every row it skips.
    if len(branches) == 1:
        ids = branches[0].with_only_columns(entity.id, sort_key, maintain_column_froms=True)
        ids = ids.order_by(*in_order.by())
    else:
        # An OR of the parts leaves the database no index that yields the rows in order: it
        # sorted every visible post for every page of a signed-in reader. Each part reads its
        # first offset + limit ids in order from its own index instead, and the page is cut
        # from their merge.
        members = []
        for branch in branches:
            first = (
                branch.with_only_columns(entity.id, sort_key, maintain_column_froms=True)
                .order_by(*in_order.by())
                .limit(bindparam("reach"))
                .subquery()
            )
            members.append(select(first.c.id, first.c.sort_key))
        merged = union_all(*members).subquery()
        ids = select(merged.c.id, merged.c.sort_key).order_by(*in_order.by(merged.c.sort_key, merged.c.id))
    page_ids = ids.limit(bindparam("limit")).offset(bindparam("offset")).subquery()
    # Each row carries its sort key as the database read it (lower(username) is not Python's
    # lower()): the next cursor's position must compare the way the index does.
    if rows is None:
        selected = select(entity, page_ids.c.sort_key)
    else:
        selected = rows.add_columns(page_ids.c.sort_key.label(SORT_KEY))
    joined = selected.join(page_ids, entity.id == page_ids.c.id)
    # Ordered by the page's own columns: the sort may be on a subquery's column (a search's relevance).
    return Listing(
        count, joined.order_by(*in_order.by(page_ids.c.sort_key, page_ids.c.id)), plain=rows is not None
    )


R = TypeVar("R")


class Paged(Generic[R]):
    """One page of a list and what its envelope says about it. In cursor mode `page` and
    `pages` are None. `query` is the query the page answers: the request's, with what a cursor
    holds filled in where the request left it out."""

    __slots__ = ("incomplete", "next_cursor", "page", "pages", "per_page", "query", "rows", "total")

    def __init__(
        self, rows: list[R], total: int, query: Any, *, cursor_mode: bool, next_cursor: str | None
    ) -> None:
        self.rows = rows
        self.total = total
        self.query = query
        self.per_page: int = query.per_page
        self.page: int | None = None if cursor_mode else query.page
        self.pages: int | None = None if cursor_mode else math.ceil(total / query.per_page)
        self.next_cursor = next_cursor
        self.incomplete = False  # a search stopped at its time limit: the best of what it found


Q = TypeVar("Q", bound=PageQuery)


@dataclass(frozen=True, slots=True)
class Position:
    """The last row a cursor was given after: its sort key and id."""

    key: Any
    row_id: int

    @property
    def after(self) -> After:
        return "null" if self.key is None else "value"


def filters_of(query: PageQuery) -> dict[str, Any]:
    """What decides a list's rows and their order (filters and sort), as JSON values."""
    return query.model_dump(mode="json", exclude=PAGE_FIELDS, exclude_none=True)


def resume(uow: UnitOfWork, list_name: str, query: Q) -> tuple[Q, Position | None]:
    """The query a page answers, and where it starts: without a cursor, the request's query from
    its page; with one, the cursor's filters and sort (a request may repeat them or leave them
    out, never change them) from the cursor's position."""
    if query.cursor is None:
        return query, None
    if "page" in query.model_fields_set:
        raise Invalid("send either page or cursor, not both: a cursor holds its own position", loc=LOC)
    filters, key, row_id = uow.config.cursors.load(query.cursor, list_name)
    own = filters_of(query)
    for name in sorted(query.model_fields_set - PAGE_FIELDS):
        if own.get(name) != filters.get(name):
            raise Invalid(
                f"this cursor was given out for another {name}: send the one it came with, or leave it out",
                loc=LOC,
            )
    try:
        resumed = type(query).model_validate({**filters, "per_page": query.per_page, "cursor": query.cursor})
    except ValidationError:  # signed by an older release whose filters this one no longer takes
        raise Invalid("this cursor is from an older version of the list: start again", loc=LOC) from None
    return resumed, Position(key, row_id)


def paginate(
    uow: UnitOfWork,
    query: Listing,
    request: PageQuery,
    *,
    list_name: str,
    position: Position | None = None,
    params: dict[str, Any] | None = None,
    guard: Callable[[], AbstractContextManager[None]] = nullcontext,
    cached_total: bool = True,
) -> Paged[Any]:
    """One page of `query` with `params` bound, from `request`'s page or from `position`, and the
    total. One row more than the page is read: it tells whether a next cursor is needed. Each
    statement runs inside `guard()` (a search's time limit)."""
    params = params or {}
    with guard():
        total = uow.count(query.count, params, cached=cached_total)
    per_page = request.per_page
    offset = 0 if position is not None else (request.page - 1) * per_page
    bounds = {**params, "limit": per_page + 1, "offset": offset, "reach": offset + per_page + 1}
    if position is not None:
        bounds |= {"after_key": position.key, "after_id": position.row_id}
    if query.plain:
        # Through the session's connection: plain rows skip the ORM's execution layer as well.
        # Nothing is flushed first; a list page reads in its own unit of work.
        with guard():
            result = uow.session.connection().execute(query.page, bounds)
            names = result.keys()
            rows: list[Any] = [dict(zip(names, row, strict=True)) for row in result.all()]  # one fetchall
        keys = [row.pop(SORT_KEY) for row in rows]
    else:
        with guard():
            pairs = uow.session.execute(query.page, bounds).unique().all()
        rows, keys = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    next_cursor = None
    if len(rows) > per_page:
        rows, last = rows[:per_page], rows[per_page - 1]
        last_id = last["id"] if query.plain else last.id
        next_cursor = uow.config.cursors.dump(list_name, filters_of(request), keys[per_page - 1], last_id)
    return Paged(rows, total, request, cursor_mode=position is not None, next_cursor=next_cursor)


def order(columns: dict[str, Any], sort: str, tiebreak: Any) -> Order:
    """The order for a whitelisted `sort` value (`-` prefix = descending), with a stable tiebreak."""
    return Order(columns[sort.lstrip("-")], tiebreak, sort.startswith("-"))


def like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '/' with a bound parameter: what SQLAlchemy's
    `icontains(autoescape=True)` does, which needs the value when the statement is built."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"
