"""`make bench-ab A=<dir> B=<dir>`: one scenario of `make bench`, two checkouts, interleaved.

Full `make bench` runs one checkout after the other, and on a shared VM the drift between two runs
(the bare route alone moves by up to a quarter) hides a change of a few per cent. This starts the
two checkouts' servers in turn, ROUNDS times, on the same core with the same settings as
`make bench`, and prints each round and the median per checkout. Each checkout serves its own
copy of the dataset, seeded and migrated by its own code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BENCH, FLASK, SMOKE, Server, cpus, free_port, seed, server_env, wrk

SCENARIOS = {
    "cached": ("/api/v1/posts/{post}", {}),
    "uncached": ("/api/v1/posts/{post}", {"APP_CACHE__ENABLED": "false"}),
    "list-miss": ("/api/v1/posts", {}),
}


def dataset(tree: Path, data: Path) -> Path:
    db = data / f"{tree.name}.db"
    if not db.exists():
        seed(f"sqlite:///{db}", SMOKE, cwd=tree)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--scenario", choices=SCENARIOS, default="cached")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--data-dir", type=Path, default=BENCH / "data" / "ab")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    server_cpu, wrk_cpu = cpus()
    path, extra = SCENARIOS[args.scenario]
    script = "pages.lua" if args.scenario == "list-miss" else None
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    dbs = {name: dataset(tree, args.data_dir) for name, tree in trees.items()}
    seen: dict[str, list[float]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        for name, tree in trees.items():
            port = free_port()
            env = server_env(f"sqlite:///{dbs[name]}", f"bench-ab-{os.getpid()}-{name}-{round_}", **extra)
            cmd = [*FLASK, "serve", "--port", str(port), "--workers", "1"]
            server = Server(cmd, env, port, server_cpu, args.data_dir / f"server-{name}.log", cwd=tree)
            try:
                listed = requests.get(f"{server.base}/api/v1/posts?per_page=1&status=published", timeout=10)
                url = server.base + path.format(post=listed.json()["items"][0]["id"])
                wrk(url, 2, args, wrk_cpu, script=script, env={"BENCH_START": "30000"})
                rps, *_ = wrk(url, args.duration, args, wrk_cpu, script=script, env={"BENCH_START": "0"})
            finally:
                server.stop()
            seen[name].append(rps)
            print(f"round {round_ + 1}  {name}  {rps:8.0f} req/s", flush=True)
    medians = {name: statistics.median(values) for name, values in seen.items()}
    print(
        json.dumps({"scenario": args.scenario, "median_req_s": medians, "B/A": medians["B"] / medians["A"]})
    )


if __name__ == "__main__":
    shutil.which("wrk") or sys.exit("wrk is missing: `make bench` installs it")
    main()
