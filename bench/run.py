"""`make bench`: a bare Flask+waitress baseline and Inkwell, measured in the same run with wrk.

Servers are pinned to CPU 0 with taskset and wrk to CPU 1 (one core each). Every scenario gets a
warm-up and then two measured passes, of which the better counts (the bare route's too: a
neighbour on a shared VM only ever slows a window down). Each figure is reported as a ratio to
the bare endpoint measured on the same machine before and after the scenarios (the mean of the
two), because absolute numbers on shared machines drift. Each row also gives the CPU time per
request of the server's processes, of Redis (when it runs on this machine) and of wrk, from /proc
and getrusage: on two cores shared by all of them, that bounds what `--workers 2` can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FLASK = [sys.executable, "-m", "flask", "--app", "app"]
FULL = {"users": 10_000, "posts": 100_000, "comments": 300_000, "items": 10_000}
SMOKE = {"users": 30, "posts": 200, "comments": 400, "items": 30}
BENCH_PASSWORD = "bench-password-1"
HIGH = "100000000/minute"  # limits stay on (every request pays for them) but never refuse
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BARE_FIRST = "bare Flask + waitress (baseline)"
BARE_LAST = "bare Flask + waitress, again after the scenarios"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    target: str = ""
    # CPU time per request (user + system, µs) of the server's processes, Redis and wrk: on two
    # shared cores, what the others spend is what a second worker cannot have.
    cpu_us: tuple[float | None, float | None, float] | None = None


def sh(  # type: ignore[no-untyped-def]
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, **kw
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True, **kw)


def seed(db_url: str, sizes: dict[str, int], cwd: Path = ROOT) -> None:
    """Migrate and seed a database with the checkout at `cwd` (its own code and migrations)."""
    env = server_env(db_url, "bench-seed", APP_ENV="development")
    sh([*FLASK, "db-upgrade"], env, cwd=cwd)
    sh([*FLASK, "seed", "--seed", "1", *[f"--{k}={v}" for k, v in sizes.items()]], env, cwd=cwd, timeout=1800)


def cpus() -> tuple[str, str]:
    """Server core and wrk core (the same core on a one-core machine)."""
    available = sorted(os.sched_getaffinity(0))
    return str(available[0]), str(available[-1])


def server_env(db_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(
        APP_ENV="production",  # JSON request logs, as in production
        APP_AUTH__SECRET_KEY="bench-secret-key-0123456789-abcdefghijklmnop",
        APP_DATABASE__URL=db_url,
        APP_REDIS__URL=REDIS_URL,
        APP_REDIS__KEY_PREFIX=prefix,
        APP_RATE_LIMIT__ENABLED="true",
        APP_RATE_LIMIT__ANONYMOUS=HIGH,
        APP_RATE_LIMIT__AUTHENTICATED=HIGH,
        APP_RATE_LIMIT__LOGIN=HIGH,
        APP_RATE_LIMIT__TIERS=json.dumps({"standard": "600/minute", "bench": HIGH, "unlimited": ""}),
        APP_SERVER__THREADS="4",
    )
    env.update(extra)
    return env


class Server:
    """A server process in its own session, pinned with taskset, stopped by its process group."""

    def __init__(
        self, cmd: list[str], env: dict[str, str], port: int, cpu: str | None, log: Path, cwd: Path = ROOT
    ) -> None:
        self.port = port
        self.log = log.open("w")
        pinned = ["taskset", "-c", cpu, *cmd] if cpu is not None else cmd
        self.proc = subprocess.Popen(
            pinned, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self._wait_ready("/healthz" if "app" in cmd else "/hello", log)
        except BaseException:
            self.stop()  # one that never answered (or a SIGTERM meanwhile) is not left running
            raise

    def _wait_ready(self, path: str, log: Path) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}{path}", timeout=1)
                return
            except requests.RequestException:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(
    url: str,
    seconds: float,
    args: argparse.Namespace,
    cpu: str,
    *,
    headers: dict[str, str] | None = None,
    script: str | None = None,
    env: dict[str, str] | None = None,
    connections: int | None = None,
) -> tuple[float, float, float, int, int]:
    cmd = [
        "taskset",
        "-c",
        cpu,
        "wrk",
        "-t1",
        f"-c{connections or args.connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
    ]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", str(BENCH / "lua" / script)]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {p: float(v) * scale[u] for p, v, u in LATENCY.findall(out)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return rps, lat.get("50", 0.0), lat.get("99", 0.0), errors, requests_done


def cpu_seconds(pid: int) -> float:
    """utime + stime of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has been waited for
    return usage.ru_utime + usage.ru_stime


def redis_pid(url: str) -> int | None:
    """The Redis server's pid when it runs on this machine (its CPU is then counted), else None."""
    try:
        with redis.Redis.from_url(url) as client:
            pid = int(client.info("server")["process_id"])
        return pid if "redis" in Path(f"/proc/{pid}/comm").read_text() else None
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None


def measure(  # type: ignore[no-untyped-def]
    name: str,
    url: str,
    args: argparse.Namespace,
    cpu: str,
    target: str = "",
    server: Server | None = None,
    **kw,
) -> Result:
    """The best of `args.passes` measured runs after one warm-up (the bare route's too): a
    neighbour on this VM can slow any one 15 s window by a quarter, never speed it up.

    `forget`, for the cache-miss scenarios, empties the response cache before each further pass,
    so that every pass asks for the same pages and misses on every one.
    """
    base_env = {**kw.pop("env", {})}
    forget: Callable[[], None] | None = kw.pop("forget", None)
    # pages.lua: the warm-up asks for pages the measured passes never ask for.
    wrk(url, args.warmup, args, cpu, env={**base_env, "BENCH_START": "30000"}, **kw)
    servers = server.pids() if server is not None else []
    redis_at = redis_pid(REDIS_URL) if server is not None else None
    passes = []
    for index in range(args.passes):
        if index and forget is not None:
            forget()
        env = {**base_env, "BENCH_START": "0"}
        before = [cpu_seconds(p) for p in servers], cpu_seconds(redis_at) if redis_at else 0.0, children_cpu()
        rps, p50, p99, errors, requests_done = wrk(url, args.duration, args, cpu, env=env, **kw)
        after = [cpu_seconds(p) for p in servers], cpu_seconds(redis_at) if redis_at else 0.0, children_cpu()

        def per_request(seconds: float, done: int = requests_done) -> float:
            return seconds * 1e6 / max(1, done)

        cpu_us = (
            per_request(sum(after[0]) - sum(before[0])) if servers else None,
            per_request(after[1] - before[1]) if redis_at else None,
            per_request(after[2] - before[2]),
        )
        passes.append(Result(name, rps, p50, p99, errors, target, cpu_us))
    result = max(passes, key=lambda r: r.rps)
    result.errors = sum(p.errors for p in passes)  # an error in any pass counts
    print(
        f"  {name:<44} {result.rps:>9.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
        f"  errors {result.errors}  CPU µs/req {_cpu_cells(result.cpu_us)}"
        f"  (passes: {' / '.join(f'{p.rps:,.0f}' for p in passes)})",
        flush=True,
    )
    return result


def _cpu_cells(cpu_us: tuple[float | None, float | None, float] | None) -> str:
    if cpu_us is None:
        return "– · – · –"
    return " · ".join("–" if v is None else f"{v:,.0f}" for v in cpu_us)


def prepare_dataset(args: argparse.Namespace) -> Path:
    """Seed once per size (the slow part), then copy the file per run so writes never accumulate."""
    sizes = SMOKE if args.smoke else FULL
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    tag = "smoke" if args.smoke else "full"
    seeded = data / f"seed-{tag}.db"
    marker = data / f"seed-{tag}.json"
    if not (seeded.exists() and marker.exists() and json.loads(marker.read_text()) == sizes):
        for f in data.glob(f"seed-{tag}.db*"):
            f.unlink()
        env = server_env(f"sqlite:///{seeded}", "bench-seed", APP_ENV="development")
        started = time.monotonic()
        seed(f"sqlite:///{seeded}", sizes)
        print(f"seeded {sizes} in {time.monotonic() - started:.1f} s")
        env_admin = [
            "--username",
            "bench_admin",
            "--email",
            "bench_admin@example.com",
            "--password",
            BENCH_PASSWORD,
        ]
        sh([*FLASK, "create-user", *env_admin, "--admin"], env)
        marker.write_text(json.dumps(sizes))
    run_db = data / f"run-{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{run_db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(seeded, run_db)
    return run_db


def inkwell(db: Path, prefix: str, cpu: str | None, workers: int = 1, **extra: str) -> Server:
    port = free_port()
    env = server_env(f"sqlite:///{db}", prefix, **extra)
    cmd = [*FLASK, "serve", "--port", str(port), "--workers", str(workers)]
    return Server(cmd, env, port, cpu, db.parent / f"server-{prefix}.log")  # logs beside the data


def run(args: argparse.Namespace) -> list[Result]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: `make bench` installs it (apt-get install -y wrk)")
    server_cpu, wrk_cpu = cpus()
    db = prepare_dataset(args)
    cli_env = server_env(f"sqlite:///{db}", "bench-cli", APP_ENV="development")
    scopes = "read,items:write,posts:write,comments:write"
    key_cmd = [
        "create-api-key",
        "--username",
        "bench_admin",
        "--name",
        "bench",
        "--scopes",
        scopes,
        "--tier",
        "bench",
    ]
    key = sh([*FLASK, *key_cmd], cli_env).stdout.strip().splitlines()[-1]
    results: list[Result] = []

    results.append(measure_bare(BARE_FIRST, db.parent, args, server_cpu, wrk_cpu))

    prefix = f"bench-{os.getpid()}"
    server = inkwell(db, prefix, server_cpu)
    try:
        base = server.base
        published = requests.get(f"{base}/api/v1/posts?per_page=2&status=published", timeout=10).json()[
            "items"
        ]
        # Reads use one post, comments go to another: thousands of new comments would make the
        # read post's comment_count (a COUNT over its comments) grow during the run.
        post_id, commented_id = published[0]["id"], published[1]["id"]
        login = {"username": "bench_admin", "password": BENCH_PASSWORD}
        token = requests.post(f"{base}/api/v1/auth/login", json=login, timeout=10).json()["access_token"]
        etag = requests.get(f"{base}/api/v1/posts/{post_id}", timeout=10).headers["ETag"]

        def forget() -> None:
            """Drop the posts' cached responses; the list totals and namespace versions stay."""
            with redis.Redis.from_url(REDIS_URL) as client:
                forgotten = 0
                for key in client.scan_iter(f"{prefix}:cache:{{posts}}:e:*", count=1000):
                    forgotten += client.delete(key)
            if not forgotten:  # the entries' key format (web/cache.py) changed: the pass would hit
                raise RuntimeError("no cached post entries to forget between passes")

        # bench_admin sees every post; a reader sees the published ones and their own drafts (a
        # few, so that both parts of the reader's list read something). Each run works on a fresh
        # copy of the dataset, so the reader is new each time.
        reader = {"username": "bench_reader", "password": BENCH_PASSWORD}
        registered = {**reader, "email": "bench_reader@example.com"}
        requests.post(f"{base}/api/v1/auth/register", json=registered, timeout=10).raise_for_status()
        reader_auth = {
            "Authorization": "Bearer "
            + requests.post(f"{base}/api/v1/auth/login", json=reader, timeout=30).json()["access_token"]
        }
        for n in range(5):
            draft = {"title": f"Reader draft {n}", "content": "Not published yet."}
            requests.post(
                f"{base}/api/v1/posts", json=draft, headers=reader_auth, timeout=10
            ).raise_for_status()
        comment = {
            "BENCH_BODY": json.dumps({"content": "Benchmark comment."}),
            "BENCH_AUTH": f"Bearer {token}",
        }
        # (name, path, target, wrk options): everything through the full stack with limits on.
        scenarios: list[tuple[str, str, str, dict]] = [
            ("GET one post, anonymous, cache hit", f"/api/v1/posts/{post_id}", "≥ 0.45", {}),
            (
                "GET one post with an API key, cache hit",
                f"/api/v1/posts/{post_id}",
                "≥ 0.42",
                {"headers": {"X-API-Key": key}},
            ),
            (
                "GET one post with a bearer token, cache hit",
                f"/api/v1/posts/{post_id}",
                "≥ 0.40",
                {"headers": {"Authorization": f"Bearer {token}"}},
            ),
            (
                "GET one post, If-None-Match → 304",
                f"/api/v1/posts/{post_id}",
                "≥ the cache hit",
                {"headers": {"If-None-Match": etag}},
            ),
            ("GET list page of 20 + total, cache hit", "/api/v1/posts?per_page=20", "≥ 0.40", {}),
            (
                "GET list page (10-40 rows) + total, cache miss",
                "/api/v1/posts",
                "≥ 0.12",
                {"script": "pages.lua", "forget": forget},
            ),
            (
                "GET list page (10-40 rows), signed-in reader, cache miss",
                "/api/v1/posts",
                "",
                {
                    "script": "pages.lua",
                    "headers": reader_auth,
                    "forget": forget,
                },
            ),
            (
                "POST a comment (bearer)",
                f"/api/v1/posts/{commented_id}/comments",
                "",
                {"script": "post.lua", "env": comment},
            ),
            (
                "POST login (argon2id)",
                "/api/v1/auth/login",
                "",
                # argon2id costs ~25 ms of CPU by design: 4 connections keep the queue under wrk's timeout.
                {
                    "script": "post.lua",
                    "env": {"BENCH_BODY": json.dumps(login), "BENCH_AUTH": ""},
                    "connections": 4,
                },
            ),
        ]
        for name, path, target, options in scenarios:
            results.append(measure(name, base + path, args, wrk_cpu, target, server, **options))
    finally:
        server.stop()

    server = inkwell(db, prefix + "-nocache", server_cpu, APP_CACHE__ENABLED="false")
    try:
        url = f"{server.base}/api/v1/posts/{post_id}"
        results.append(measure("GET one post, cache disabled", url, args, wrk_cpu, "≥ 0.25", server))
    finally:
        server.stop()

    # Two workers pinned one per core; wrk then shares the machine with them, as a harness would.
    server = inkwell(db, prefix + "-w2", None, workers=2, APP_SERVER__CPU_AFFINITY="true")
    try:
        url = f"{server.base}/api/v1/posts/{post_id}"
        results.append(
            measure(
                "--workers 2: GET one post, cache hit",
                url,
                args,
                wrk_cpu,
                "≥ 1.7 × one worker, p99 ≤ 20 ms",
                server,
            )
        )
    finally:
        server.stop()
    results.append(measure_bare(BARE_LAST, db.parent, args, server_cpu, wrk_cpu))
    return results


def measure_bare(name: str, logs: Path, args: argparse.Namespace, server_cpu: str, wrk_cpu: str) -> Result:
    port = free_port()
    cmd = [sys.executable, str(BENCH / "bare.py"), str(port), "4"]
    bare = Server(cmd, dict(os.environ), port, server_cpu, logs / "bare.log")
    try:
        return measure(name, f"{bare.base}/hello", args, wrk_cpu, server=bare)
    finally:
        bare.stop()


def soak(args: argparse.Namespace) -> None:
    """RSS of one worker over a long cached-GET run: a leak shows as steady growth."""
    server_cpu, wrk_cpu = cpus()
    db = prepare_dataset(args)
    server = inkwell(db, f"bench-soak-{os.getpid()}", server_cpu)
    try:
        post_id = requests.get(f"{server.base}/api/v1/posts?per_page=1", timeout=10).json()["items"][0]["id"]
        url = f"{server.base}/api/v1/posts/{post_id}"
        wrk(url, 10, args, wrk_cpu)
        samples = []
        for _ in range(max(1, int(args.soak // 30))):
            wrk(url, 30, args, wrk_cpu)
            rss = int(Path(f"/proc/{server.pids()[0]}/status").read_text().split("VmRSS:")[1].split()[0])
            samples.append(rss)
            print(f"  RSS {rss / 1024:.1f} MiB", flush=True)
        change = (samples[-1] - samples[0]) / samples[0] * 100
        print(
            f"RSS first {samples[0] / 1024:.1f} MiB, last {samples[-1] / 1024:.1f} MiB, change {change:+.1f} %"
        )
    finally:
        server.stop()


def write_table(results: list[Result], args: argparse.Namespace) -> str:
    # The denominator is the mean of the bare route's runs before and after the scenarios: these
    # VMs drift by 10-25 % within minutes, and a ratio to the first run alone would carry it.
    bares = [r.rps for r in results if r.name in (BARE_FIRST, BARE_LAST)]
    bare = sum(bares) / len(bares) or float("nan")  # no bare figure: ratios print as nan
    single = next((r for r in results if r.name.startswith("GET one post, anonymous")), None)
    one_worker = single.rps if single else 0.0
    lines = [
        "| scenario | req/s | p50 ms | p99 ms | × bare | errors | target | CPU µs/req: server · Redis · wrk |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        ratio = f"{r.rps / bare:.2f}"
        if r.name.startswith("--workers 2") and one_worker:
            ratio += f" ({r.rps / one_worker:.2f} × 1 worker{_ceiling(single)})"
        lines.append(
            f"| {r.name} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {ratio} | {r.errors} | {r.target} "
            f"| {_cpu_cells(r.cpu_us)} |"
        )
    versions = ", ".join(
        f"{p} {metadata.version(p)}"
        for p in ("Flask", "waitress", "SQLAlchemy", "pydantic", "limits", "Flask-Caching")
    )
    header = [
        f"# Benchmark results{' (smoke run: tiny dataset, seconds per scenario)' if args.smoke else ''}",
        "",
        f"Command: `{'make bench' if not args.smoke else 'python bench/run.py --smoke'}` — wrk -t1 -c{args.connections}, "
        f"{args.duration:g} s per scenario after {args.warmup:g} s warm-up, the best of {args.passes} passes; "
        "server pinned to one core, wrk to the other.",
        f"Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"{_cpu_model()}, Python {platform.python_version()}, Linux {platform.release()}.",
        f"Versions: {versions}. Dataset: {SMOKE if args.smoke else FULL} on SQLite; cache and limits on Redis.",
        f"× bare: to the mean of the bare route's two runs, {bares[0]:,.0f} and {bares[-1]:,.0f} req/s "
        f"({_drift(bares)} drift between them), {bare:,.0f}.",
        "",
    ]
    text = "\n".join(header + lines) + "\n"
    Path(args.out).write_text(text)
    return text


def _drift(bares: list[float]) -> str:
    return f"{(bares[-1] - bares[0]) / bares[0] * 100:+.0f} %" if bares[0] > 0 else "–"


def _ceiling(single: Result | None) -> str:
    """What two workers could reach at most, as a multiple of one: the cores this run may use,
    divided by what a request cost everyone (server, Redis, wrk) at the one-worker figures."""
    if single is None or single.cpu_us is None or None in single.cpu_us:
        return ""
    total_us = sum(single.cpu_us)  # type: ignore[arg-type]
    if total_us <= 0 or single.rps <= 0:
        return ""
    cores = len(os.sched_getaffinity(0))
    bound = min(2.0, cores * 1e6 / total_us / single.rps)
    return f"; CPU ceiling {bound:.2f} ×"


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    # Stopped from outside (the smoke test's timeout, a Ctrl-C'd make): unwind through the
    # `finally` blocks that stop each server by its process group, rather than orphan them.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny dataset, 1 s per scenario (used by make test)"
    )
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--passes", type=int, default=None, help="measured runs per scenario; the best counts"
    )
    parser.add_argument("--data-dir", default=str(BENCH / "data"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--soak", type=float, default=0, help="instead: N seconds of cached GETs, report RSS")
    args = parser.parse_args()
    args.duration = args.duration or (1 if args.smoke else 15)
    args.warmup = args.warmup or (1 if args.smoke else 3)
    args.passes = args.passes or (1 if args.smoke else 2)
    args.out = args.out or str(BENCH / ("results-smoke.md" if args.smoke else "results.md"))
    if args.soak:
        soak(args)
        return
    print(write_table(run(args), args))


if __name__ == "__main__":
    main()
