"""Users: public listing, self-service profile, admin changes, deletion with everything owned."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from models import User
from schemas.users import MeUpdate, UserAdminUpdate, UserQuery
from services import passwords
from services.actor import Actor
from services.auth import revoke_other_families
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from services.pagination import Paged, listing, order, paginate, resume
from services.uow import UnitOfWork

SORTS = {"created_at": User.created_at, "username": func.lower(User.username), "updated_at": User.updated_at}
Precondition = Callable[[object], None]


def list_users(*, uow: UnitOfWork, query: UserQuery) -> Paged[User]:
    """Anyone may list users; `q` matches the username, ignoring case."""
    query, position = resume(uow, "users", query)
    stmt = select(User)
    if query.q:
        stmt = stmt.where(User.username.icontains(query.q, autoescape=True))
    if query.updated_since is not None:
        stmt = stmt.where(User.updated_at >= query.updated_since)
    after = position.after if position is not None else None
    shape = listing(stmt, order(SORTS, query.sort, User.id), after=after)
    return paginate(uow, shape, query, list_name="users", position=position)


def get(*, uow: UnitOfWork, user_id: int, for_update: bool = False) -> User:
    user = uow.session.get(User, user_id, with_for_update=for_update or None)
    if user is None:
        raise NotFound("user not found")
    return user


def sees_private(actor: Actor | None, user: User) -> bool:
    """Email and updated_at are shown to the user themself and to admins."""
    return actor is not None and (actor.is_admin or actor.user_id == user.id)


def me(*, uow: UnitOfWork, actor: Actor | None) -> User:
    if actor is None:
        raise Unauthorized("authentication required")
    user = uow.session.get(User, actor.user_id)
    if user is None:
        raise Unauthorized("invalid credential")
    return user


def update_me(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    data: MeUpdate,
    precondition: Precondition | None = None,
) -> User:
    """Change bio, email or password; a new password needs the current one and ends other logins."""
    user = me(uow=uow, actor=actor)
    assert actor is not None
    changes = data.model_dump(exclude_unset=True)
    if actor.key_id is not None:
        # A key may edit the profile, never take over the account: email and password need a bearer.
        if actor.scopes <= {"read"}:
            raise Forbidden("a read-only API key cannot change the account")
        if {"email", "password"} & changes.keys():
            raise Forbidden("changing email or password needs a bearer token")
    if precondition:
        precondition(user)
    if "current_password" in changes and "password" not in changes:
        raise Invalid("current_password is only used with password", loc=("body", "current_password"))
    if data.password is not None:
        if data.current_password is None:
            raise Invalid("a new password needs current_password", loc=("body", "current_password"))
        if not passwords.verify_password(user.password_hash, data.current_password):
            raise Forbidden("current_password is wrong")
        passwords.refuse_weak(data.password, username=user.username, email=data.email or user.email)
        user.password_hash = passwords.hash_password(data.password)
        revoke_other_families(uow=uow, user_id=user.id, keep_family=actor.family_id)
    if data.email is not None and data.email != user.email:
        if uow.session.scalar(
            select(User.id).where(func.lower(User.email) == data.email, User.id != user.id)
        ):
            raise Conflict("email is already taken")
        user.email = data.email
    if "bio" in changes:
        user.bio = data.bio or ""
    uow.commit()
    return user


def admin_update(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    user_id: int,
    data: UserAdminUpdate,
    precondition: Precondition | None = None,
) -> User:
    """Admins set role and bio."""
    _require_admin(actor)
    user = get(uow=uow, user_id=user_id, for_update=True)
    if precondition:
        precondition(user)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("role") is not None and changes["role"] != user.role:
        user.role = changes["role"]
        uow.revoked_credentials = True  # a role is part of every remembered caller of this user
    if "bio" in changes:
        user.bio = changes["bio"] or ""
    uow.commit()
    return user


def delete(
    *, uow: UnitOfWork, actor: Actor | None, user_id: int, precondition: Precondition | None = None
) -> None:
    """Self or admin; posts, comments, keys and tokens go with the user (FK cascades)."""
    if actor is None:
        raise Unauthorized("authentication required")
    if actor.key_id is not None:
        raise Forbidden("deleting an account needs a bearer token; no API-key scope covers it")
    user = get(uow=uow, user_id=user_id, for_update=True)
    if not (actor.is_admin or actor.user_id == user.id):
        raise Forbidden("only the user or an admin may delete this user")
    if precondition:
        precondition(user)
    uow.session.delete(user)
    uow.revoked_credentials = True
    uow.commit()


def _require_admin(actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthorized("authentication required")
    if actor.key_id is not None:
        raise Forbidden("managing accounts needs a bearer token; no API-key scope covers it")
    if not actor.is_admin:
        raise Forbidden("admin only")
    return actor
