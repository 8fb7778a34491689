"""`make bench-scale` in miniature: a few thousand posts on both engines. Not a timing test: it
proves the harness seeds, answers every request of section 7's targets and writes its table."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import create_engine, text

from tests.support.live import ROOT
from tests.support.services import postgres_or_skip

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PREFIX = "inkwell_scale_smoke"  # the seeded databases this test makes, and drops
ROWS = [
    "first page of the default list, total included",
    "first page of the default list while 10 comments/s are written",
    "q=quokka (rare)",
    "search=quokka (rare)",
    "cursor walk, first page (100 rows)",
    "cursor walk, page at depth",
    "import of 1,000 items (upsert)",
]


def test_bench_scale_measures_every_target_on_both_engines(tmp_path):
    postgres_or_skip()
    out = tmp_path / "results-scale.md"
    store = tmp_path / "store"
    sizes = ["--users", "20", "--posts", "2000", "--comments", "500", "--items", "20", "--depth", "500"]
    args = [
        *sizes,
        "--runs",
        "1",
        "--out",
        str(out),
        "--store",
        str(store),
        "--database-prefix",
        "inkwell_scale_smoke",
    ]
    try:
        run = subprocess.run(
            [sys.executable, "bench/scale.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, run.stderr[-3000:]
        table = out.read_text()
        for engine in ("sqlite", "postgresql"):
            for row in ROWS:
                assert f"| {engine} | {row}" in table, (engine, row, table)
            assert f"| {engine} | search=" in table
    finally:
        admin = create_engine(
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'inkwell_scale_smoke%'")
            )
            for name in names.scalars().all():
                conn.execute(text(f'DROP DATABASE "{name}"'))
        admin.dispose()
