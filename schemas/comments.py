from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from schemas.common import NOT_BLANK, AuthorRef, Body, Id, Out, Page, SyncQuery

CommentText = Annotated[str, StringConstraints(min_length=1, max_length=5000)]
CommentTextIn = Annotated[str, StringConstraints(min_length=1, max_length=5000, pattern=NOT_BLANK)]


class CommentCreate(Body):
    content: CommentTextIn


class CommentUpdate(Body):
    content: CommentTextIn


class CommentQuery(SyncQuery):
    sort: Literal["created_at", "-created_at", "updated_at", "-updated_at"] = "created_at"


class CommentOut(Out):
    id: Id
    post_id: Id
    author: AuthorRef
    content: CommentText
    created_at: datetime
    updated_at: datetime


class CommentPage(Page[CommentOut]):
    pass
