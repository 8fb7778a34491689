from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from schemas.common import AuthorRef, Body, Id, Out, Page, PageQuery

CommentText = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class CommentCreate(Body):
    content: CommentText


class CommentUpdate(Body):
    content: CommentText


class CommentQuery(PageQuery):
    sort: Literal["created_at", "-created_at"] = "created_at"


class CommentOut(Out):
    id: Id
    post_id: Id
    author: AuthorRef
    content: CommentText
    created_at: datetime
    updated_at: datetime


class CommentPage(Page[CommentOut]):
    pass
