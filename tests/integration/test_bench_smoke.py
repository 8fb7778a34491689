"""`make bench` in miniature: a tiny dataset, about a second per scenario. Not a timing test:
it proves the harness runs every scenario end to end with no error and writes its table."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.support.live import ROOT
from tests.support.services import redis_or_skip, require_service

SCENARIOS = [
    "bare Flask + waitress (baseline)",
    "GET one post, anonymous, cache hit",
    "GET one post with an API key, cache hit",
    "GET one post with a bearer token, cache hit",
    "GET one post, If-None-Match → 304",
    "GET list page of 20 + total, cache hit",
    "GET list page (10-40 rows) + total, cache miss",
    "GET list page (10-40 rows), signed-in reader, cache miss",
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
    harness = subprocess.Popen(
        # Two passes, as `make bench` runs them: between the cache-miss passes the harness empties
        # the response cache, and fails if it finds no entry to drop.
        [
            sys.executable,
            "bench/run.py",
            "--smoke",
            "--passes",
            "2",
            "--data-dir",
            str(tmp_path),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = harness.communicate(timeout=600)
    finally:
        if harness.poll() is None:
            # SIGTERM first: the harness then stops the servers it started, each by its process
            # group, before it exits; SIGKILL only if it does not.
            harness.terminate()
            try:
                harness.wait(timeout=30)
            except subprocess.TimeoutExpired:
                harness.kill()
                harness.wait()
    assert harness.returncode == 0, output[-6000:]
    assert output.count("(passes: ") == len(SCENARIOS), output[-6000:]
    table = out.read_text()
    rows = {
        line.split("|")[1].strip(): line.split("|") for line in table.splitlines() if line.startswith("| ")
    }
    for scenario in SCENARIOS:
        assert scenario in rows, f"missing scenario {scenario!r} in:\n{table}"
        cells = rows[scenario]
        assert float(cells[2].replace(",", "")) > 0, cells  # req/s
        assert cells[6].strip() == "0", f"{scenario}: errors or non-2xx/3xx responses: {cells}"
        # CPU per request of the server, of the local Redis and of wrk, each measured.
        server_us, redis_us, wrk_us = (float(v.replace(",", "")) for v in cells[8].split("·"))
        assert server_us > 0 and wrk_us > 0 and redis_us >= 0, cells
    assert "bare: to the mean of the bare route's two runs" in table
    assert "CPU ceiling" in rows["--workers 2: GET one post, cache hit"][5]
