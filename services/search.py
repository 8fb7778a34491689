"""Text search on posts and items, from indexes on both databases (docs/api.md, "Search").

- `q`, a case-insensitive substring: SQLite FTS5 tables with the `trigram` tokenizer; PostgreSQL
  pg_trgm GIN indexes, which serve ILIKE '%...%' as it is.
- `search`, full text with English stems: SQLite FTS5 (porter) ranked by bm25; PostgreSQL a
  stored tsvector column with a GIN index, `websearch_to_tsquery` and `ts_rank`. The title weighs
  more.

The FTS5 tables and the PostgreSQL indexes are built, and kept in step with every write (SQLite
triggers), by migration 8f4a5b6c7d8e. No input reaches FTS5's query language unquoted: every
term is a string literal, built here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Double,
    bindparam,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy import cast as cast_
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

# The FTS5 tables (external content: they index posts' and items' columns, store no copy).
POSTS_TRIGRAM = table("posts_trigram", column("rowid"))
POSTS_WORDS = table("posts_words", column("rowid"))
ITEMS_TRIGRAM = table("items_trigram", column("rowid"))
# PostgreSQL: the stored tsvector column (title weighted A, content B), not mapped by the ORM:
# a post is never loaded with it. models/unmodelled.py names what the migrations build.
PG_VECTOR = "posts.search_vector"
# bm25 column weights (title, content) on SQLite; PostgreSQL's ts_rank weighs A over B likewise.
BM25 = "bm25(posts_words, 10.0, 1.0)"
MAX_RESULTS = 1000

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True, slots=True)
class Terms:
    """A search as web search engines read it: every group must match (AND), a group being one
    term or several joined by `or`; a term is a word or a quoted phrase; `-term` excludes."""

    groups: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...]


def parse(text: str) -> Terms:
    groups: list[list[str]] = []
    excluded: list[str] = []
    joining = False
    for match in _TOKEN.finditer(text):
        negative, phrase, word = match.group(1), match.group(2), match.group(3)
        if word is not None and word.lower() == "or":
            joining = bool(groups)
            continue
        if word is not None and word.startswith("-") and len(word) > 1:
            negative, word = "-", word[1:]
        term = phrase if phrase is not None else word
        if not any(ch.isalnum() for ch in term):  # punctuation alone is no word to find
            continue
        if negative:
            excluded.append(term)
        elif joining:
            groups[-1].append(term)
        else:
            groups.append([term])
        joining = False
    return Terms(tuple(tuple(g) for g in groups), tuple(excluded))


def _literal(term: str) -> str:
    """An FTS5 string: double quotes doubled, so nothing in it is an operator."""
    return '"' + term.replace('"', '""') + '"'


def fts5_words(terms: Terms) -> str | None:
    """The FTS5 MATCH expression for `search`; None when nothing is to be found (no term to look
    for: exclusions alone would be a scan of every post)."""
    if not terms.groups:
        return None
    expression = " AND ".join("(" + " OR ".join(_literal(t) for t in group) + ")" for group in terms.groups)
    for term in terms.excluded:
        expression = f"({expression}) NOT {_literal(term)}"
    return expression


def fts5_substring(text: str) -> str:
    """The FTS5 MATCH expression for `q` on a trigram table: the text as one phrase."""
    return _literal(text)


def post_words_match(dialect: str) -> tuple[Any, ColumnElement[Any], ColumnElement[bool]]:
    """For `search` on posts: what to join (SQLite's FTS table, or nothing), the rank (lower is
    better), and the match condition; the bound parameter is `search`."""
    if dialect == "sqlite":
        words = POSTS_WORDS
        condition = literal_column("posts_words").op("MATCH")(bindparam("search"))
        return words, literal_column(BM25), condition
    vector: ColumnElement[Any] = literal_column(PG_VECTOR)
    query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), bindparam("search"))
    # ts_rank is a float4, whose text form reads back as a nearby double: as a double, a cursor's
    # rank compares equal to the row it came from.
    rank = cast_(func.ts_rank(vector, query), Double)
    return None, -rank, vector.op("@@")(query)


def post_substring(dialect: str, title: Any, content: Any) -> tuple[Any, ColumnElement[bool]]:
    """For `q` on posts: what to join (SQLite's FTS table, or nothing) and the condition; the
    bound parameter is `q` (an FTS5 phrase, or a LIKE pattern). A join, not `id IN (matches)`:
    SQLite then reads the matches first, where with IN it walked the sort's index over every
    post and looked each one up in the matches."""
    if dialect == "sqlite":
        return POSTS_TRIGRAM, literal_column("posts_trigram").op("MATCH")(bindparam("q"))
    pattern: Any = bindparam("q")
    return None, or_(title.ilike(pattern, escape="/"), content.ilike(pattern, escape="/"))


def item_substring(
    dialect: str, name: Any, description: Any, item_id: Any, needle: str
) -> ColumnElement[bool]:
    """For `q` on items (10,000 rows, not a million: a text shorter than a trigram is scanned)."""
    if dialect == "sqlite" and len(needle) >= 3:
        matching = select(ITEMS_TRIGRAM.c.rowid).where(
            literal_column("items_trigram").op("MATCH")(fts5_substring(needle))
        )
        return cast("ColumnElement[bool]", item_id.in_(matching))
    return or_(name.icontains(needle, autoescape=True), description.icontains(needle, autoescape=True))


class TimedOut(Exception):
    """A statement ran past its time limit and was stopped."""


class TimeLimit:
    """One deadline for a search's statements: each runs with what time is left (SQLite: a
    progress handler that interrupts it; PostgreSQL: statement_timeout in a savepoint, which a
    cancelled statement rolls back, leaving the transaction usable)."""

    def __init__(self, session: Session, milliseconds: int) -> None:
        self._session = session
        self._end = time.monotonic() + milliseconds / 1000

    @contextmanager
    def statement(self) -> Iterator[None]:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimedOut
        connection = self._session.connection()
        if connection.dialect.name == "sqlite":
            raw = connection.connection.driver_connection
            end = self._end
            raw.set_progress_handler(lambda: time.monotonic() > end, 10_000)  # type: ignore[union-attr]
            try:
                yield
            except OperationalError as exc:
                if "interrupted" in str(exc.orig):
                    raise TimedOut from None
                raise
            finally:
                raw.set_progress_handler(None, 0)  # type: ignore[union-attr]
            return
        try:
            with self._session.begin_nested():
                timeout = f"{max(1, int(left * 1000))}ms"
                self._session.execute(
                    text("SELECT set_config('statement_timeout', :t, true)"), {"t": timeout}
                )
                yield
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled
                raise TimedOut from None
            raise
