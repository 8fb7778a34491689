"""/metrics under `serve --workers 2`: every worker's counts are summed (multiprocess mode)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from core.migrations import upgrade_database
from tests.support.live import app_env, live_server

pytestmark = pytest.mark.server


def _sample(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_add_up_across_two_workers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    upgrade_database(url)
    metrics_dir = tmp_path / "prom"
    env = app_env(url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    sent = 120
    with live_server(env, workers=2, threads=4) as base:
        for n in range(sent):
            # A new connection each time, so SO_REUSEPORT spreads them over both workers.
            response = requests.get(
                f"{base}/api/v1/posts/{n + 1}", headers={"Connection": "close"}, timeout=5
            )
            assert response.status_code == 404
        pids = {re.search(r"_(\d+)\.db$", p.name).group(1) for p in metrics_dir.glob("counter_*.db")}
        assert len(pids) == 2, pids  # both workers served and wrote their own counts
        for _ in range(4):  # whichever worker answers, it reports the sum of both
            text = requests.get(f"{base}/metrics", headers={"Connection": "close"}, timeout=5).text
            assert _sample(
                text, "inkwell_http_requests_total", route="/api/v1/posts/<id:post_id>", status="404"
            ) == float(sent)
            count = _sample(
                text, "inkwell_http_request_duration_seconds_count", route="/api/v1/posts/<id:post_id>"
            )
            assert count == float(sent)
            assert "inkwell_db_pool_connections_in_use" in text
