"""`make bench-scale`: the targets of contract section 7 on a seeded data set, both engines.

Seeds `seed --users U --posts P --comments C --items I` once per engine and sizes, kept between
runs (`var/bench-scale/`, and a PostgreSQL database named after the sizes and the migrations'
head: a schema change seeds afresh), then measures in-process, one worker, cache off, the median
of `--runs` (plain `time.perf_counter` around the test client's request):

- a rare `q` and a rare `search` (a seeded post's unique title word), a `search` found in about
  half the posts, the first page of the default list while another thread writes 10 comments a
  second, a cursor walk to depth `--depth` (first and last page), an import of 1,000 items.

Prints one line per target with the measured value beside it, and writes bench/results-scale.md.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from app import create_app  # noqa: E402
from core.migrations import head_revisions, upgrade_database  # noqa: E402
from core.settings import Settings  # noqa: E402
from entrypoints.seed import SEED_PASSWORD, WORDS, seed  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
RARE = "quokka"  # not in the seed's vocabulary
WRITE_SECONDS = 3.0


def database(kind: str, sizes: dict[str, int], store: Path, prefix: str) -> str:
    """The URL of a seeded database for these sizes and this schema, seeding it the first time."""
    tag = hashlib.blake2b(
        repr((sorted(sizes.items()), sorted(head_revisions()))).encode(), digest_size=6
    ).hexdigest()
    if kind == "sqlite":
        path = store / f"{tag}.db"
        url = f"sqlite:///{path}"
        if path.exists():
            return url
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _seed(f"sqlite:///{partial}", sizes)
        partial.rename(path)
        return url
    name = f"{prefix}_{tag}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        done = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": f"{name}"}).first()
        if done is None:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}_partial"))
            conn.execute(text(f"CREATE DATABASE {name}_partial"))
    admin.dispose()
    if done is None:
        _seed(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}_partial", sizes)
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name}_partial RENAME TO {name}"))
        admin.dispose()
    return url


def _seed(url: str, sizes: dict[str, int]) -> None:
    started = time.perf_counter()
    upgrade_database(url)
    engine = create_engine(url)
    try:
        seed(engine, **sizes)
        with engine.begin() as conn:  # a rare word: in one post of a thousand
            conn.execute(
                text("UPDATE posts SET title = title || :word WHERE id % 1000 = 0"), {"word": f" {RARE}"}
            )
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    print(f"  seeded {url.split('/')[-1]} in {time.perf_counter() - started:.0f} s", flush=True)


def median_ms(call: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(kind: str, url: str, runs: int, depth: int) -> list[tuple[str, str, float, str]]:
    settings = Settings(
        env="development",
        database={"url": url},
        cache={"enabled": False},
        rate_limit={"enabled": False},
        log={"level": "WARNING"},
    )
    app = create_app(settings)
    client = app.test_client()

    def get(path: str, **query: Any) -> dict[str, Any]:
        response = client.get(path, query_string=query)
        assert response.status_code == 200, (path, query, response.get_data(as_text=True)[:300])
        return response.get_json()

    def login(on: Any) -> dict[str, str]:
        """The first seeded admin's bearer token (admins may write comments and import items)."""
        with engine.connect() as conn:
            name = conn.execute(text("SELECT username FROM users WHERE role = 'admin' ORDER BY id")).scalar()
        answer = on.post("/api/v1/auth/login", json={"username": name, "password": SEED_PASSWORD})
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}

    engine = app.extensions["inkwell"].db.engine
    with engine.connect() as conn:
        # A common word: the seed's word found in the share of a sample of posts nearest to half.
        contents = conn.execute(text("SELECT content FROM posts LIMIT 2000")).scalars()
        sample = [set(str(content).lower().split()) for content in contents]
    shares = {word: sum(word in words for words in sample) / max(1, len(sample)) for word in WORDS}
    common_word = min(shares, key=lambda word: abs(shares[word] - 0.5))
    rare_word = RARE
    results = []

    def row(name: str, target: str, value: float, note: str = "") -> None:
        results.append((name, target, value, note))
        print(f"  {kind:10} {name:58} {value:9.1f} ms   target {target} {note}", flush=True)

    get("/api/v1/posts")  # warm: statements built, pages in the OS cache
    row("first page of the default list, total included", "—", median_ms(lambda: get("/api/v1/posts"), runs))
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        writes = app.test_client()
        headers = login(writes)
        post_id = get("/api/v1/posts", per_page=1)["items"][0]["id"]
        while not stop.wait(0.1):
            writes.post(f"/api/v1/posts/{post_id}/comments", json={"content": "busy"}, headers=headers)
            written[0] += 1

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    time.sleep(0.5)
    # For WRITE_SECONDS: each list page follows a write or two, its total never the cached one.
    samples, until = [], time.perf_counter() + WRITE_SECONDS
    while time.perf_counter() < until or len(samples) < runs:
        samples.append(median_ms(lambda: get("/api/v1/posts"), 1))
        time.sleep(0.05)
    under_writes = statistics.median(samples)
    stop.set()
    thread.join()
    row(
        "first page of the default list while 10 comments/s are written",
        "≤ 10",
        under_writes,
        f"({written[0]} writes)",
    )
    row(f"q={rare_word[:20]} (rare)", "≤ 30 p50", median_ms(lambda: get("/api/v1/posts", q=rare_word), runs))
    row(
        f"search={rare_word[:20]} (rare)",
        "≤ 30 p50",
        median_ms(lambda: get("/api/v1/posts", search=rare_word), runs),
    )
    common = {}

    def common_search() -> None:
        common.update(get("/api/v1/posts", search=common_word))

    row(
        f"search={common_word} (in {shares[common_word]:.0%} of posts)",
        "≤ 500 or incomplete ≤ 1050",
        median_ms(common_search, runs),
        f"(incomplete_results: {common.get('incomplete_results')})",
    )
    first = median_ms(lambda: get("/api/v1/posts", per_page=100, sort="created_at"), runs)
    body = get("/api/v1/posts", per_page=100, sort="created_at")
    walked, started, last = 0, time.perf_counter(), 0.0
    while body["next_cursor"] is not None and walked < depth:
        walked += len(body["items"])
        cursor = body["next_cursor"]
        t0 = time.perf_counter()
        body = get("/api/v1/posts", per_page=100, cursor=cursor)
        last = (time.perf_counter() - t0) * 1000
    row("cursor walk, first page (100 rows)", "—", first)
    row(
        f"cursor walk, page at depth {walked:,}",
        f"≤ {1.5 * first:.1f} (1.5× first)",
        last,
        f"(walk {time.perf_counter() - started:.1f} s)",
    )
    headers = login(client)
    batch = [
        {"sku": f"SCALE-{kind[:2].upper()}-{n:05}", "name": f"import {n}", "price": "9.99"}
        for n in range(1000)
    ]

    def imported() -> None:
        response = client.post(
            "/api/v1/items/import", json={"items": batch, "on_conflict": "update"}, headers=headers
        )
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    row("import of 1,000 items (upsert)", "≤ 1000", median_ms(imported, runs))
    app.extensions["inkwell"].db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--depth", type=int, default=500_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results-scale.md"))
    parser.add_argument(
        "--store", default=str(ROOT / "var" / "bench-scale"), help="where seeded SQLite files are kept"
    )
    parser.add_argument(
        "--database-prefix", default="inkwell_scale", help="seeded PostgreSQL databases' names"
    )
    args = parser.parse_args()
    sizes = {"users": args.users, "posts": args.posts, "comments": args.comments, "items": args.items}
    lines = [
        "# make bench-scale",
        "",
        f"`seed` {' '.join(f'--{k} {v}' for k, v in sizes.items())}; in-process, one worker, cache off,"
        f" median of {args.runs}. Written by bench/scale.py.",
        "",
        "| engine | request | ms | target |",
        "|---|---|---:|---|",
    ]
    for kind in args.engines.split(","):
        print(f"{kind}:", flush=True)
        url = database(kind, sizes, Path(args.store), args.database_prefix)
        for name, target, value, note in measure(kind, url, args.runs, args.depth):
            lines.append(f"| {kind} | {name} {note} | {value:.1f} | {target} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
