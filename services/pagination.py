from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, func

from services.uow import UnitOfWork


def paginate(uow: UnitOfWork, stmt: Select[Any], *, page: int, per_page: int) -> tuple[list[Any], int, int]:
    """One page of `stmt` (already filtered and ordered), the total, and the page count."""
    # Same FROM and WHERE, only count(*): no ORDER BY, eager joins or comment_count subquery.
    total = uow.count(stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None))
    rows = list(uow.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return rows, total, math.ceil(total / per_page)


def order(columns: dict[str, Any], sort: str, tiebreak: Any) -> list[Any]:
    """ORDER BY for a whitelisted `sort` value (`-` prefix = descending), with a stable tiebreak."""
    descending = sort.startswith("-")
    column = columns[sort.lstrip("-")]
    if descending:
        return [column.desc().nulls_last(), tiebreak.desc()]
    return [column.asc().nulls_last(), tiebreak.asc()]
