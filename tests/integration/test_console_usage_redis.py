"""The console's usage page reads the same Redis counters the API's limiter writes."""

from __future__ import annotations

import re
from collections.abc import Callable

import redis
from flask import Flask

from tests.console.conftest import Console, text
from tests.support.services import REDIS_URL


def test_usage_reads_the_shared_redis_window(redis_app: Callable[..., Flask], redis_prefix: str) -> None:
    app = redis_app(rate_limit={"enabled": True, "tiers": {"standard": "40/minute", "elevated": ""}})
    console = Console(app).user("alice")
    secret = console.create_key("ci", ("read",))
    prefix = secret.split("_")[1]
    for _ in range(4):
        assert console.client.get("/api/v1/posts", headers={"X-API-Key": secret}).status_code == 200
    # The counter lives in Redis (every process sees it), not in this process.
    counters = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{redis_prefix}:rl*key:*"))
    assert counters, "no key counter in Redis"
    page = text(console.client.get("/console/usage"))
    row = re.search(rf'<tr data-key="{prefix}">(.*?)</tr>', page, re.S)
    assert row and '<td class="remaining">36</td>' in row.group(1) and "40 per 60 s" in row.group(1)
    assert '<td class="remaining">36</td>' in text(
        console.client.get("/console/usage")
    )  # reading counts nothing
