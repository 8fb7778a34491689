from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from schemas.common import MAX_ID, NOT_BLANK, AuthorRef, Body, Count, Id, Out, Page, SyncQuery, omittable

Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
TitleIn = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK)]
Content = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
Slug = Annotated[str, StringConstraints(max_length=200, pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Status = Literal["draft", "published"]


class PostCreate(Body):
    title: TitleIn
    content: Content
    status: Status = "draft"
    slug: Slug | None = None


class PostReplace(Body):
    title: TitleIn
    content: Content
    status: Status
    slug: Slug | None = None


class PostUpdate(Body):
    title: TitleIn = omittable()
    content: Content = omittable()
    status: Status = omittable()
    slug: Slug | None = None


class PostQuery(SyncQuery):
    status: Status = omittable()
    author: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None
    # Bounded like path ids: a number no id column can hold would be a database error, not a 422.
    author_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    slug: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    # A substring, matched from a trigram index: shorter than a trigram, it could not be.
    q: Annotated[str, StringConstraints(min_length=3, max_length=100)] | None = None
    # Full text: words by their English stems, "a phrase", -excluded, a or b (services/search.py).
    search: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    sort: Annotated[
        Literal[
            "relevance",
            "created_at",
            "-created_at",
            "published_at",
            "-published_at",
            "title",
            "-title",
            "updated_at",
            "-updated_at",
        ],
        Field(description="With `search` the default is `relevance`, taken only with `search` (else 422)."),
    ] = "-created_at"


class PostOut(Out):
    id: Id
    title: Title
    slug: Slug
    content: Content
    status: Status
    author: AuthorRef
    comment_count: Count
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class PostPage(Page[PostOut]):
    # true when a search stopped at search.timeout_ms: the page holds the best of what it found.
    incomplete_results: bool
