"""`make bench` in miniature: a tiny dataset, about a second per scenario. Not a timing test:
it proves the harness runs every scenario end to end with no error and writes its table."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import redis_or_skip, require_service
from tests.live import ROOT

SCENARIOS = [
    "bare Flask + waitress (baseline)",
    "GET one post, anonymous, cache hit",
    "GET one post with an API key, cache hit",
    "GET one post with a bearer token, cache hit",
    "GET one post, If-None-Match → 304",
    "GET list page of 20 + total, cache hit",
    "GET list page (10-40 rows) + total, cache miss",
    "POST a comment (bearer)",
    "POST login (argon2id)",
    "GET one post, cache disabled",
    "--workers 2: GET one post, cache hit",
    "bare Flask + waitress, again after the scenarios",
]


@pytest.mark.server
def test_bench_smoke_runs_every_scenario_without_errors(tmp_path):
    if shutil.which("wrk") is None:
        require_service("wrk", "not installed; `make test` installs it")
    redis_or_skip()
    out = tmp_path / "results.md"
    run = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--data-dir", str(tmp_path), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = out.read_text()
    rows = {
        line.split("|")[1].strip(): line.split("|") for line in table.splitlines() if line.startswith("| ")
    }
    for scenario in SCENARIOS:
        assert scenario in rows, f"missing scenario {scenario!r} in:\n{table}"
        cells = rows[scenario]
        assert float(cells[2].replace(",", "")) > 0, cells  # req/s
        assert cells[6].strip() == "0", f"{scenario}: errors or non-2xx/3xx responses: {cells}"
