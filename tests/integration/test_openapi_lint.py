"""Redocly CLI lints the served /openapi.json with redocly.yaml (the `recommended` ruleset): no errors.

The CLI is a pinned npm dev dependency (package.json, package-lock.json); `make test` runs
`npm ci` when node_modules is missing or older than the lock file. Under CI=true a missing
install is a failure; elsewhere the test is skipped with a loud reason, as for PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from app import create_app
from tests.support.services import CI, make_settings

ROOT = Path(__file__).resolve().parents[2]
REDOCLY = ROOT / "node_modules" / ".bin" / "redocly"
CONFIG = ROOT / "redocly.yaml"
TIMEOUT_SECONDS = 120


def _redocly_or_skip() -> None:
    if REDOCLY.exists():
        return
    message = f"{REDOCLY.relative_to(ROOT)} is missing (run `make test`, or `npm ci` at the repo root)"
    if CI:
        pytest.fail(f"{message}: under CI=true this is a failure, not a skip", pytrace=False)
    pytest.skip(f"!!! SKIPPED: {message} !!!")


def _served_document(sqlite_url: str) -> dict[str, Any]:
    # The document depends on the code only, not on the database: one backend is enough.
    app = create_app(make_settings(sqlite_url))
    try:
        response = app.test_client().get("/openapi.json")
        assert response.status_code == 200
        return response.get_json()
    finally:
        app.extensions["inkwell"].db.dispose()


def _format(problems: list[dict[str, Any]]) -> str:
    """Grouped by rule, with the count of each: `[rule] (n)` then one line per location."""
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for problem in problems:
        by_rule.setdefault(problem["ruleId"], []).append(problem)
    lines = []
    for rule, found in sorted(by_rule.items()):
        lines.append(f"  [{rule}] ({len(found)}) {found[0]['message']}")
        for problem in found:
            where = ", ".join(loc.get("pointer", "?") for loc in problem.get("location", [])) or "?"
            lines.append(f"      {where}")
    return "\n".join(lines)


def test_served_document_has_no_redocly_errors(sqlite_url: str, tmp_path: Path) -> None:
    _redocly_or_skip()
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(_served_document(sqlite_url), indent=2))
    env = {
        **os.environ,
        "REDOCLY_TELEMETRY": "off",  # no usage reports to Redocly's servers
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",  # no version check against the registry
        "NO_COLOR": "1",
    }
    started = time.monotonic()
    result = subprocess.run(
        [str(REDOCLY), "lint", str(document), "--config", str(CONFIG), "--format=json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    elapsed = time.monotonic() - started
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"redocly exited {result.returncode} without a JSON report after {elapsed:.1f}s\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}",
            pytrace=False,
        )
    problems = report["problems"]
    errors = [p for p in problems if p["severity"] == "error"]
    warnings = [p for p in problems if p["severity"] == "warn"]
    if errors:
        pytest.fail(
            f"redocly lint (redocly.yaml): {len(errors)} error(s), {len(warnings)} warning(s)\n"
            f"errors:\n{_format(errors)}\nwarnings:\n{_format(warnings)}",
            pytrace=False,
        )
    if warnings:  # reported (pytest -rP shows them), not failed: the ruleset calls them warnings
        print(f"redocly warnings ({len(warnings)}):\n{_format(warnings)}")
    assert report["totals"]["errors"] == 0
    assert result.returncode == 0, result.stderr[-4000:]
