from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import email_validator
from pydantic import AfterValidator, ConfigDict, EmailStr, Field, StringConstraints

from schemas.common import Body, Id, Out, Page, SyncQuery, document_no_nul, omittable

Username = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
Password = Annotated[
    str,
    StringConstraints(min_length=8, max_length=128),
    Field(
        description="8-128 characters; a common password, one of only spaces, or the username or "
        "email is refused (422)."
    ),
]
# Special-use domains (RFC 6761) are what test and load-test harnesses generate (`x@load.test`):
# accepted, as email-validator documents by editing this list; `.local`, `.onion`, `.arpa` stay out.
email_validator.SPECIAL_USE_DOMAIN_NAMES = [
    name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name not in ("test", "invalid", "localhost")
]
Email = Annotated[EmailStr, StringConstraints(max_length=254), AfterValidator(str.lower)]
Bio = Annotated[str, StringConstraints(max_length=2000)]


class UserRegister(Body):
    username: Username
    email: Email
    password: Password


def _needs_password_with_current(schema: dict[str, Any]) -> None:
    document_no_nul(schema)
    schema["dependentRequired"] = {"current_password": ["password"], "password": ["current_password"]}


class MeUpdate(Body):
    # password and current_password come together (else 422); JSON Schema can say so.
    model_config = ConfigDict(json_schema_extra=_needs_password_with_current)

    bio: Bio = omittable()
    email: Email = omittable()
    password: Password = omittable()
    current_password: Annotated[str, StringConstraints(max_length=128)] = omittable()


class UserAdminUpdate(Body):
    role: Literal["user", "admin"] | None = None
    bio: Bio = omittable()


class UserQuery(SyncQuery):
    q: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    sort: Literal["created_at", "-created_at", "username", "-username", "updated_at", "-updated_at"] = (
        "created_at"
    )


class UserOut(Out):
    id: Id
    username: Username
    bio: Bio
    role: Literal["user", "admin"]
    created_at: datetime


class UserPrivateOut(UserOut):
    email: str
    updated_at: datetime


class UserPage(Page[UserOut | UserPrivateOut]):
    pass
