"""UTCDateTime on SQLite reads back every text SQLite may hold as an aware UTC datetime: the text
SQLAlchemy stores (the fast path), and anything else through SQLAlchemy's general path."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.dialects import sqlite

from models.base import UTCDateTime

DIALECT = sqlite.dialect()
READ = UTCDateTime().dialect_impl(DIALECT).result_processor(DIALECT, None)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-11-30 01:02:03.000004", datetime(2026, 11, 30, 1, 2, 3, 4, tzinfo=UTC)),
        ("2026-11-30 01:02:03", datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)),
        ("2026-11-30T01:02:03+02:00", datetime(2026, 11, 29, 23, 2, 3, tzinfo=UTC)),
        ("2026-11-30", datetime(2026, 11, 30, tzinfo=UTC)),
        (None, None),
    ],
)
def test_sqlite_text_reads_back_as_aware_utc(stored: str | None, expected: datetime | None) -> None:
    value = READ(stored)
    assert value == expected
    assert value is None or value.utcoffset() is not None
