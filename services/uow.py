"""Unit of work: one session for the request, one commit per use case, rollback otherwise."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from services.config import ServiceConfig

# Given a function that runs the COUNT, return the total (possibly from a cache).
TotalCache = Callable[[Callable[[], int]], int]
CONNECTION = "inkwell_connection"  # Session.info key: the connection its transaction began on


@event.listens_for(Session, "after_begin")
def _remember_connection(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    """For UnitOfWork.close: the one connection it may have to hand back itself."""
    session.info[CONNECTION] = connection


class UnitOfWork:
    def __init__(self, session: Session, config: ServiceConfig, totals: TotalCache | None = None) -> None:
        self.session = session
        self.config = config
        self._totals = totals
        # A use case that took credentials' rights away sets this, committed or not (a spent
        # refresh token revokes its login, then answers 401): remembered callers must be re-checked.
        self.revoked_credentials = False

    def count(self, stmt: Select[Any], params: dict[str, Any], *, cached: bool = True) -> int:
        """Run a COUNT statement, through the web layer's total cache when it gave one (unless
        the count is not the list's true total: `cached=False`)."""

        def run() -> int:
            return self.session.scalar(stmt, params) or 0

        return self._totals(run) if self._totals is not None and cached else run()

    def now(self) -> datetime:
        """The services' time: the configured clock's (tests move it)."""
        return self.config.clock.now()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def close(self) -> None:
        """Discard anything a use case did not commit. Never raises.

        Session.close() rolls the transaction back once, on the connection, and hands it back to
        the pool, which then skips its own reset; a rollback() first would restore the session's
        snapshot and roll back a second time when the pool takes the connection. If the ROLLBACK
        fails on a dead connection, SQLAlchemy has invalidated it and handed it back already (the
        server dropped that transaction); on any other error the session has let go of the
        connection without handing it back, so it is invalidated here (remembered when its
        transaction began), which returns it to the pool to be replaced.
        """
        connection = self.session.info.pop(CONNECTION, None)
        try:
            self.session.close()
        except SQLAlchemyError:
            if connection is not None and not connection.closed:
                try:
                    connection.invalidate()
                    connection.close()
                except SQLAlchemyError:
                    pass
