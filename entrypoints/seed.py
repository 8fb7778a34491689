"""Bulk data for load tests: users, posts, comments, items and API keys, fast and deterministic.

Rows go in with Core `insert()` executemany in large batches, inside one transaction, ids
assigned here (so foreign keys need no round trip). Same `--seed` → same rows (except the API
key secrets, which are always fresh). Every seeded user's password is SEED_PASSWORD: hashing it
once (argon2 is slow on purpose) is what keeps seeding many users fast.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select, text

from models import ApiKey, Base, Comment, Item, Post, User
from services.actor import ALL_SCOPES
from services.passwords import hash_password
from services.posts import slugify
from services.tokens import digest, new_secret

SEED_PASSWORD = "inkwell-seed-password"  # noqa: S105 - documented: the password of every seeded user
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 10_000
ADMINS = 5
WORD_LIST = (
    "ink well paper story draft light river stone garden market city quiet morning signal "
    "winter summer harbor letter window bridge forest island silver copper engine orbit theory "
    "practice method pattern detail system network archive library journal review column editor "
    "author reader chapter volume margin border canvas studio kitchen recipe coffee tea bread "
    "salt honey apple lemon cedar maple willow falcon otter fox heron travel journey route "
    "north south east west harvest season weather cloud storm rain simple careful honest bright "
    "steady gentle rapid hidden open early late modern ancient build measure write read share "
    "follow notice gather explore improve repair compare the a of and to in on with for from "
    "about under over between after before "
)
WORDS = WORD_LIST.split()


@dataclass
class SeedResult:
    users: int
    posts: int
    comments: int
    items: int
    keys: list[str]
    seconds: float


class _Text:
    """Sentences drawn once from the word list; paragraphs are picked from them (fast and varied)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sentences = [self._sentence() for _ in range(3000)]

    def _sentence(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(6, 16))
        return " ".join(words).capitalize() + self.rng.choice(".....!?")

    def title(self) -> str:
        return " ".join(self.rng.choices(WORDS[:120], k=self.rng.randint(3, 7))).title()

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.rng.choices(self.sentences, k=sentences))

    def article(self) -> str:
        return "\n\n".join(self.paragraph(self.rng.randint(3, 6)) for _ in range(self.rng.randint(2, 5)))


def seed(
    engine: Engine,
    *,
    users: int,
    posts: int,
    comments: int,
    items: int,
    seed_value: int = 1,
    keys: int = 0,
    tier: str = "standard",
    progress: Callable[[int], None] = lambda _rows: None,
) -> SeedResult:
    """Bulk-load; `progress(n)` is called as every batch of n rows goes in."""
    import time

    started = time.perf_counter()
    rng = random.Random(seed_value)
    words = _Text(rng)
    password_hash = hash_password(SEED_PASSWORD)
    with engine.begin() as conn:
        _bulk_load_pragmas(conn)
        first_user = _next_id(conn, _table(User))
        user_ids = range(first_user, first_user + users)
        _insert(conn, _table(User), _users(rng, words, user_ids, password_hash), progress)
        first_post = _next_id(conn, _table(Post))
        published: list[tuple[int, datetime]] = []
        if users:
            _insert(conn, _table(Post), _posts(rng, words, first_post, posts, user_ids, published), progress)
        if published and users:
            first_comment = _next_id(conn, _table(Comment))
            rows = _comments(rng, words, first_comment, comments, user_ids, published)
            _insert(conn, _table(Comment), rows, progress)
        first_item = _next_id(conn, _table(Item))
        _insert(conn, _table(Item), _items(rng, words, first_item, items), progress)
        secrets_out = _api_keys(conn, list(user_ids)[: min(ADMINS, users)], keys, tier)
        _fix_sequences(conn)
    with engine.begin() as conn:
        # Fresh statistics: without them SQLite's planner guesses that `status = 'published'`
        # picks a few rows, and walks every post in a sort's index to find a search's matches.
        conn.execute(text("ANALYZE"))
    return SeedResult(
        users=users,
        posts=posts if users else 0,
        comments=comments if published else 0,
        items=items,
        keys=secrets_out,
        seconds=time.perf_counter() - started,
    )


def _users(rng: random.Random, words: _Text, ids: range, password_hash: str) -> Iterator[dict[str, Any]]:
    for n, user_id in enumerate(ids):
        admin = n < ADMINS
        name = f"seedadmin{user_id}" if admin else f"user{user_id}"
        at = BASE_TIME + timedelta(minutes=n)
        yield {
            "id": user_id,
            "username": name,
            "email": f"{name}@example.com",
            "password_hash": password_hash,
            "bio": words.paragraph(1) if rng.random() < 0.5 else "",
            "role": "admin" if admin else "user",
            "created_at": at,
            "updated_at": at,
        }


def _posts(
    rng: random.Random,
    words: _Text,
    first: int,
    count: int,
    user_ids: range,
    published: list[tuple[int, datetime]],
) -> Iterator[dict[str, Any]]:
    span = int(timedelta(days=300).total_seconds())
    for post_id in range(first, first + count):
        title = words.title()
        created = BASE_TIME + timedelta(seconds=rng.randrange(span))
        is_draft = rng.random() < 0.10  # about one post in ten is a draft
        published_at = None if is_draft else created + timedelta(minutes=rng.randint(0, 600))
        if published_at is not None:
            published.append((post_id, published_at))
        yield {
            "id": post_id,
            "author_id": rng.choice(user_ids),
            "title": title,
            "slug": f"{slugify(title)}-{post_id}",  # the id suffix keeps every seeded slug unique
            "content": words.article(),
            "status": "draft" if is_draft else "published",
            "published_at": published_at,
            "created_at": created,
            "updated_at": published_at or created,
        }


def _comments(
    rng: random.Random,
    words: _Text,
    first: int,
    count: int,
    user_ids: range,
    published: list[tuple[int, datetime]],
) -> Iterator[dict[str, Any]]:
    for comment_id in range(first, first + count):
        post_id, post_at = rng.choice(published)
        at = post_at + timedelta(seconds=rng.randint(60, 30 * 86_400))
        yield {
            "id": comment_id,
            "post_id": post_id,
            "author_id": rng.choice(user_ids),
            "content": words.paragraph(rng.randint(1, 3)),
            "created_at": at,
            "updated_at": at,
        }


def _items(rng: random.Random, words: _Text, first: int, count: int) -> Iterator[dict[str, Any]]:
    for item_id in range(first, first + count):
        at = BASE_TIME + timedelta(minutes=item_id)
        yield {
            "id": item_id,
            "sku": f"SEED-{item_id:08d}",
            "name": words.title()[:100],
            "description": words.paragraph(rng.randint(1, 3))[:2000],
            "price": Decimal(rng.randint(50, 50_000)).scaleb(-2),
            "stock": 0 if rng.random() < 0.1 else rng.randint(1, 500),
            "created_at": at,
            "updated_at": at,
        }


def _api_keys(conn: Connection, admin_ids: list[int], count: int, tier: str) -> list[str]:
    """Keys owned by the seeded admins (round robin) with every scope, so harnesses can write items."""
    out: list[str] = []
    rows = []
    for n in range(count if admin_ids else 0):
        prefix = secrets.token_hex(6)
        secret = f"iwk_{prefix}_{new_secret(32)}"
        rows.append(
            {
                "user_id": admin_ids[n % len(admin_ids)],
                "name": f"seed-load-test-{n + 1}",
                "prefix": prefix,
                "secret_hash": digest(secret),
                "scopes": sorted(ALL_SCOPES),
                "tier": tier,
                "created_at": BASE_TIME,
            }
        )
        out.append(secret)
    if rows:
        conn.execute(insert(_table(ApiKey)), rows)
    return out


def _insert(
    conn: Connection, table: Table, rows: Iterator[dict[str, Any]], progress: Callable[[int], None]
) -> None:
    batch: list[dict[str, Any]] = []
    statement = insert(table)
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            conn.execute(statement, batch)
            progress(len(batch))
            batch = []
    if batch:
        conn.execute(statement, batch)
        progress(len(batch))


def _table(model: type[Base]) -> Table:
    """A model's table, typed as the Table it is (declarative types __table__ as a FromClause)."""
    return cast(Table, model.__table__)


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _bulk_load_pragmas(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        # Only for this connection, during the load: a bigger page cache, temp data in memory.
        conn.exec_driver_sql("PRAGMA cache_size=-262144")
        conn.exec_driver_sql("PRAGMA temp_store=MEMORY")


def _fix_sequences(conn: Connection) -> None:
    """Ids were given explicitly; PostgreSQL's sequences must continue after them."""
    if conn.dialect.name != "postgresql":
        return
    for table in ("users", "posts", "comments", "items", "api_keys"):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
        )
