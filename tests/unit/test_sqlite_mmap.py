"""SQLite reads the database file through a memory map of `database.sqlite_mmap_bytes` on every
connection the pool opens, reads and writes alike; 0 turns it off."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import Database
from tests.support.services import make_settings


@pytest.mark.parametrize("mmap_bytes", [64 * 1024 * 1024, 0])
def test_every_connection_maps_the_configured_size(tmp_path: Path, mmap_bytes: int) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'm.db'}", database={"sqlite_mmap_bytes": mmap_bytes})
    db = Database(settings)
    try:
        sessions = [db.session(write=False), db.session(write=True)]  # two pooled connections
        seen = [session.scalar(text("PRAGMA mmap_size")) for session in sessions]
        for session in sessions:
            session.close()
        assert seen == [mmap_bytes, mmap_bytes]
    finally:
        db.dispose()
