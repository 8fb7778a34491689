from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, func, select

from services.uow import UnitOfWork


def paginate(
    uow: UnitOfWork, stmt: Select[Any], order_by: list[Any], *, page: int, per_page: int
) -> tuple[list[Any], int, int]:
    """One page of `stmt` (filtered, one entity) in `order_by`, the total, and the page count."""
    entity = stmt.column_descriptions[0]["entity"]
    # Same FROM and WHERE, only count(*): no ORDER BY, eager joins or comment_count subquery.
    total = uow.count(stmt.with_only_columns(func.count(), maintain_column_froms=True))
    # Deferred join: the page's ids come from the index alone, then only those rows are loaded
    # with their joins and counts. A plain OFFSET would load and join every row it skips
    # (45-70 ms at offset 2,000 of 100k posts on SQLite, 0.3 ms this way).
    ids = (
        stmt.with_only_columns(entity.id, maintain_column_froms=True)
        .order_by(*order_by)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery()
    )
    rows = list(
        uow.session.scalars(select(entity).join(ids, entity.id == ids.c.id).order_by(*order_by)).unique()
    )
    return rows, total, math.ceil(total / per_page)


def order(columns: dict[str, Any], sort: str, tiebreak: Any) -> list[Any]:
    """ORDER BY for a whitelisted `sort` value (`-` prefix = descending), with a stable tiebreak."""
    descending = sort.startswith("-")
    column = columns[sort.lstrip("-")]
    if descending:
        return [column.desc().nulls_last(), tiebreak.desc()]
    return [column.asc().nulls_last(), tiebreak.asc()]
