"""Contract fuzzing: the schemathesis CLI drives every documented operation of a live server.

All default checks and phases, bounded by --max-examples and deterministic, authenticated with
seeded users' credentials (see fuzz_hooks.py); the server runs with rate limits disabled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.migrations import upgrade_database
from tests.support.live import ROOT, app_env, flask_cli, live_server

pytestmark = pytest.mark.server
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "25")
FUZZ_USER_ID = "7"  # "user7", a seeded regular user


def test_schemathesis_finds_no_failures(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    upgrade_database(url)
    env = app_env(url)
    keys = tmp_path / "keys.txt"
    seed = ["seed", "--users", "20", "--posts", "60", "--comments", "120", "--items", "20"]
    flask_cli([*seed, "--keys", "10", "--keys-out", str(keys), "--unlimited"], env)
    fuzz_env = {
        **env,
        "PYTHONPATH": str(ROOT),
        "SCHEMATHESIS_HOOKS": "tests.integration.fuzz_hooks",
        "FUZZ_SECRET_KEY": env["APP_AUTH__SECRET_KEY"],
        "FUZZ_API_KEY": keys.read_text().split()[-1],  # a seeded admin's key (the highest id)
        "FUZZ_USER_ID": FUZZ_USER_ID,
    }
    with live_server(env, threads=4) as base:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "--config-file",
                str(Path(__file__).with_name("schemathesis.toml")),
                "run",
                f"{base}/openapi.json",
                "--max-examples",
                MAX_EXAMPLES,
                "--generation-deterministic",
                "--request-timeout",
                "10",
                "--workers",
                "1",
                "--no-color",
            ],
            cwd=ROOT,
            env=fuzz_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    report = run.stdout[-12000:] + run.stderr[-3000:]
    (ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "schemathesis-report.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, report
