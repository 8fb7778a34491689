"""`make bench-instructions`: instructions per in-process request, counted by callgrind.

Seconds on a shared VM drift by more than a change of a few per cent; instructions do not
(repeatable to 0.03 % with PYTHONHASHSEED=0). This runs the app in-process on a small seeded
SQLite file and the Redis of `make bench`, with `make bench`'s settings (production profile, rate
limits on Redis), under callgrind twice, with 100 and with 600 requests after a warm-up; the
difference over 500 is one request. The server loop (waitress) is not in it.

    python bench/instructions.py [--scenario cached|uncached] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SMOKE, seed, server_env

LOW, HIGH = 100, 600


def requests_inside(count: int) -> None:
    """The measured program: warm up, then `count` GETs of one published post."""
    from app import create_app

    client = create_app().test_client()
    post = client.get("/api/v1/posts?per_page=1&status=published").get_json()["items"][0]["id"]
    for _ in range(100 + count):
        assert client.get(f"/api/v1/posts/{post}").status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=("cached", "uncached"), default="cached")
    parser.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--inside", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside is not None:
        requests_inside(args.inside)
        return
    checkout = args.checkout.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/instructions.db"
        seed(db, SMOKE, cwd=checkout)
        extra = {"APP_CACHE__ENABLED": "false"} if args.scenario == "uncached" else {}
        counted = []
        for count in (LOW, HIGH):
            env = {**server_env(db, f"bench-instructions-{os.getpid()}", **extra), "PYTHONHASHSEED": "0"}
            env["PYTHONPATH"] = str(checkout)
            out = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={tmp}/callgrind.out",
                    sys.executable,
                    __file__,
                    "--inside",
                    str(count),
                ],
                cwd=checkout,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stderr
            counted.append(int(re.search(r"Collected : (\d+)", out).group(1)))  # type: ignore[union-attr]
    per_request = (counted[1] - counted[0]) / (HIGH - LOW)
    print(f"{checkout.name}: {args.scenario} GET one post, {per_request:,.0f} instructions a request")


if __name__ == "__main__":
    main()
