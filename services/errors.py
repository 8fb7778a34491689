"""Domain errors. Services raise these; the HTTP layer maps each to one problem+json status."""

from __future__ import annotations


class DomainError(Exception):
    title = "Error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class BadRequest(DomainError):
    title = "Bad request"


class Unauthorized(DomainError):
    title = "Unauthorized"


class Forbidden(DomainError):
    title = "Forbidden"


class NotFound(DomainError):
    title = "Not found"


class Conflict(DomainError):
    title = "Conflict"


class PreconditionFailed(DomainError):
    title = "Precondition failed"


class Invalid(DomainError):
    """A rule on the input that its schema alone cannot check (e.g. an unknown tier)."""

    title = "Unprocessable content"

    def __init__(self, detail: str, *, loc: tuple[str | int, ...] = ("body",)) -> None:
        super().__init__(detail)
        self.loc = loc
