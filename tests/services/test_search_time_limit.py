"""services/search.TimeLimit stops a statement that runs past it, on both databases, and leaves
the transaction usable for the answer that follows."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.search import TimedOut, TimeLimit

SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(30)",
}


def test_a_slow_statement_is_stopped_and_the_session_goes_on(database_url):
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            limit = TimeLimit(session, 50)
            with pytest.raises(TimedOut), limit.statement():
                session.execute(text(SLOW[engine.dialect.name]))
            assert session.execute(text("SELECT 1")).scalar() == 1  # the transaction is usable
            # Past the deadline, the next statement does not start.
            with pytest.raises(TimedOut), limit.statement():
                pytest.fail("ran past the deadline")
            # A statement that finishes in time is not disturbed.
            with TimeLimit(session, 5000).statement():
                assert session.execute(text("SELECT 2")).scalar() == 2
    finally:
        engine.dispose()
