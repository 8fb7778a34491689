"""Unit of work: one session for the request, one commit per use case, rollback otherwise."""

from __future__ import annotations

from sqlalchemy.orm import Session


class UnitOfWork:
    def __init__(self, session: Session) -> None:
        self.session = session

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def close(self) -> None:
        # Anything not committed by a use case is discarded here.
        self.session.rollback()
        self.session.close()
