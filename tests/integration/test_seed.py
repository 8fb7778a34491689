"""`flask seed` at small scale on SQLite and PostgreSQL: counts, determinism, working keys."""

from __future__ import annotations

import re
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from app import create_app
from core.migrations import upgrade_database
from entrypoints.seed import SEED_PASSWORD
from models import ApiKey, Comment, Item, Post, User
from tests.support.live import app_env, flask_cli
from tests.support.services import create_pg_database, drop_pg_database, make_settings, postgres_or_skip

ARGS = ["--users", "40", "--posts", "200", "--comments", "600", "--items", "30"]


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {
            m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (User, Post, Comment, Item, ApiKey)
        }
        counts["drafts"] = conn.execute(
            select(func.count()).select_from(Post).where(Post.status == "draft")
        ).scalar_one()
        counts["admins"] = conn.execute(
            select(func.count()).select_from(User).where(User.role == "admin")
        ).scalar_one()
        counts["commented_drafts"] = conn.execute(
            select(func.count()).select_from(Comment).join(Post).where(Post.status == "draft")
        ).scalar_one()
    engine.dispose()
    return counts


def _titles(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        titles = list(conn.execute(select(Post.title).order_by(Post.id).limit(50)).scalars())
    engine.dispose()
    return titles


def _seed_and_check(url: str, tmp_path: Path) -> None:
    upgrade_database(url)
    keys_file = tmp_path / "keys.txt"
    started = time.perf_counter()
    out = flask_cli(["seed", *ARGS, "--seed", "7", "--keys-out", str(keys_file), "--keys", "3"], app_env(url))
    elapsed = time.perf_counter() - started
    assert re.search(r"in \d+\.\d s", out.stdout), out.stdout
    counts = _counts(url)
    assert {k: counts[k] for k in ("users", "posts", "comments", "items", "api_keys")} == {
        "users": 40,
        "posts": 200,
        "comments": 600,
        "items": 30,
        "api_keys": 3,
    }
    assert 5 <= counts["drafts"] <= 40  # ~10 %
    assert counts["admins"] == 5
    assert counts["commented_drafts"] == 0
    assert elapsed < 30, elapsed

    app = create_app(make_settings(url))
    client = app.test_client()
    try:
        secrets = keys_file.read_text().split()
        assert len(secrets) == 3
        for secret in secrets:
            me = client.get("/api/v1/me", headers={"X-API-Key": secret})
            assert me.status_code == 200, me.get_json()
            assert me.get_json()["role"] == "admin"
        login = client.post("/api/v1/auth/login", json={"username": "user10", "password": SEED_PASSWORD})
        assert login.status_code == 200, login.get_json()
        # Sequences continue after the seeded ids: the API can still create rows.
        created = client.post(
            "/api/v1/items", json={"name": "After seed", "price": "1.00"}, headers={"X-API-Key": secrets[0]}
        )
        assert created.status_code == 201, created.get_json()
        listing = client.get("/api/v1/posts?per_page=5").get_json()
        assert listing["total"] == 200 - counts["drafts"]
    finally:
        app.extensions["inkwell"].db.dispose()


def test_seed_sqlite_counts_keys_and_determinism(tmp_path: Path) -> None:
    first = f"sqlite:///{tmp_path / 'a.db'}"
    _seed_and_check(first, tmp_path)
    second = f"sqlite:///{tmp_path / 'b.db'}"
    upgrade_database(second)
    flask_cli(["seed", *ARGS, "--seed", "7"], app_env(second))
    assert _titles(first) == _titles(second)
    third = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade_database(third)
    flask_cli(["seed", *ARGS, "--seed", "8"], app_env(third))
    assert _titles(first) != _titles(third)


def test_seed_postgresql_counts_and_keys(tmp_path: Path) -> None:
    postgres_or_skip()
    url = create_pg_database()
    try:
        _seed_and_check(url, tmp_path)
    finally:
        drop_pg_database(url)


def test_seed_shows_a_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import termios

    from tests.support.live import FLASK, ROOT

    small = ["seed", "--users", "20", "--posts", "50", "--comments", "80", "--items", "10"]
    piped = tmp_path / "piped.db"
    upgrade_database(f"sqlite:///{piped}")
    quiet = flask_cli(small, app_env(f"sqlite:///{piped}"))
    assert "rows/s" not in quiet.stderr and "%|" not in quiet.stderr  # not a terminal: no bar

    on_tty = tmp_path / "tty.db"
    upgrade_database(f"sqlite:///{on_tty}")
    leader, follower = pty.openpty()
    # A terminal 100 columns wide, as a real one has a size (tqdm sizes the bar from it).
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    try:
        proc = subprocess.run(
            [*FLASK, *small],
            cwd=ROOT,
            env=app_env(f"sqlite:///{on_tty}"),
            stdout=subprocess.DEVNULL,
            stderr=follower,
            timeout=120,
            check=True,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while chunk := _read_pty(leader):
            shown += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert proc.returncode == 0
    text = shown.decode(errors="replace")
    assert "160/160" in text and "100%" in text, text  # every row counted
    assert "rows/s" in text, text  # the rate (and the ETA beside it)


def _read_pty(fd: int) -> bytes:
    import os

    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: the writer closed
        return b""
