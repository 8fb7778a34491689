from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, union_all

from services.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Listing:
    """A list query's two statements; the page bounds are the bound parameters `limit`, `offset`
    and `reach` (offset + limit).

    Built per call, a Listing costs what building its statements costs. Kept and reused for one
    shape of query, with the filter values bound too, it skips SQLAlchemy's construction and
    cache-key work, a large share of a list page (docs/performance.md).
    """

    count: Select[Any]
    page: Select[Any]
    plain: bool  # the page holds plain rows (dicts), not ORM objects


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


def listing(
    stmt: Select[Any],
    in_order: Order,
    *,
    rows: Select[Any] | None = None,
    parts: tuple[ColumnElement[bool], ...] = (),
) -> Listing:
    """`stmt` selects one entity, filtered. A page holds those entities in order, or, when `rows`
    is given (columns of that entity and the joins they need), plain rows of those columns.

    `parts`, when given, are disjoint conditions: the list is what `stmt` selects under any of
    them (a signed-in reader's posts: the published ones, and their own others).
    """
    entity = stmt.column_descriptions[0]["entity"]
    branches = [stmt.where(part) for part in parts] or [stmt]
    # Same FROM and WHERE, only count(*): no ORDER BY, eager joins or comment_count subquery.
    # Disjoint parts add up; each is counted from its own index.
    counts = [b.with_only_columns(func.count(), maintain_column_froms=True) for b in branches]
    if len(counts) == 1:
        count = counts[0]
    else:
        count = select(reduce(operator.add, [c.scalar_subquery() for c in counts]))
    # Deferred join: the page's ids come from the index alone, then only those rows are loaded
    # with their joins and counts. A plain OFFSET would load and join every row it skips.
    if len(branches) == 1:
        ids = branches[0].with_only_columns(entity.id, maintain_column_froms=True).order_by(*in_order.by())
    else:
        # An OR of the parts leaves the database no index that yields the rows in order: it
        # sorted every visible post for every page of a signed-in reader. Each part reads its
        # first offset + limit ids in order from its own index instead, and the page is cut
        # from their merge.
        members = []
        for branch in branches:
            columns = (entity.id, in_order.column.label("sort_key"))
            first = (
                branch.with_only_columns(*columns, maintain_column_froms=True)
                .order_by(*in_order.by())
                .limit(bindparam("reach"))
                .subquery()
            )
            members.append(select(first.c.id, first.c.sort_key))
        merged = union_all(*members).subquery()
        ids = select(merged.c.id).order_by(*in_order.by(merged.c.sort_key, merged.c.id))
    page_ids = ids.limit(bindparam("limit")).offset(bindparam("offset")).subquery()
    joined = (select(entity) if rows is None else rows).join(page_ids, entity.id == page_ids.c.id)
    return Listing(count, joined.order_by(*in_order.by()), plain=rows is not None)


def paginate(
    uow: UnitOfWork, query: Listing, *, page: int, per_page: int, params: dict[str, Any] | None = None
) -> tuple[list[Any], int, int]:
    """One page of `query` with `params` bound, the total, and the page count."""
    params = params or {}
    total = uow.count(query.count, params)
    offset = (page - 1) * per_page
    bounds = {**params, "limit": per_page, "offset": offset, "reach": offset + per_page}
    if query.plain:
        # Through the session's connection: plain rows skip the ORM's execution layer as well.
        # Nothing is flushed first; a list page reads in its own unit of work.
        result = uow.session.connection().execute(query.page, bounds)
        names = result.keys()
        rows = [dict(zip(names, row, strict=True)) for row in result.all()]  # one fetchall
    else:
        rows = list(uow.session.execute(query.page, bounds).scalars().unique())
    return rows, total, math.ceil(total / per_page)


def order(columns: dict[str, Any], sort: str, tiebreak: Any) -> Order:
    """The order for a whitelisted `sort` value (`-` prefix = descending), with a stable tiebreak."""
    return Order(columns[sort.lstrip("-")], tiebreak, sort.startswith("-"))


def like_pattern(text: str) -> str:
    """`%text%` for LIKE ... ESCAPE '/' with a bound parameter: what SQLAlchemy's
    `icontains(autoescape=True)` does, which needs the value when the statement is built."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"
