"""API keys: a secret shown once, stored hashed, narrowed to scopes its owner holds."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, or_, select, update

from models import ApiKey, User
from schemas.auth import ApiKeyCreate, ApiKeyQuery, ApiKeyUpdate
from services.actor import Actor, require, scopes_of_role
from services.errors import Forbidden, Invalid, NotFound
from services.pagination import Order, Paged, listing, paginate, resume
from services.tokens import digest, new_secret
from services.uow import UnitOfWork

Precondition = Callable[[object], None]


def create(*, uow: UnitOfWork, actor: Actor | None, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    """Returns the row and the secret, which is never stored or shown again.

    A user holds at most `max_keys_per_user` live keys (0: no cap): each key has a budget of its
    own, so the cap bounds what one user may spend.
    """
    actor = require(actor, "keys:write")
    max_per_user = uow.config.max_keys_per_user
    if max_per_user and live_keys(uow, actor.user_id) >= max_per_user:
        raise Invalid(
            f"you already have {max_per_user} live API keys, the most one user may hold; "
            "revoke one you no longer use first",
            loc=("body",),
        )
    return issue(
        uow=uow,
        owner_id=actor.user_id,
        name=data.name,
        scopes=list(data.scopes),
        expires_at=data.expires_at,
        tier="standard",
        grantor=actor,
    )


def issue(
    *,
    uow: UnitOfWork,
    owner_id: int,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
    tier: str,
    grantor: Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for `owner_id` (the CLI calls this with no grantor)."""
    owner = uow.session.get(User, owner_id)
    if owner is None:
        raise NotFound("user not found")
    allowed = scopes_of_role(owner.role) & (grantor.scopes if grantor else scopes_of_role(owner.role))
    excess = sorted(set(scopes) - allowed)
    if excess:
        raise Forbidden(f"a key cannot carry rights its owner or creator lacks: {', '.join(excess)}")
    if tier not in uow.config.tiers:
        raise Invalid(f"unknown tier '{tier}'", loc=("body", "tier"))
    if expires_at is not None and expires_at <= uow.now():
        raise Invalid("expires_at must be in the future", loc=("body", "expires_at"))
    # A key must not outlive the key that made it, or an expiring key would mint a lasting one.
    limit = grantor.key_expires_at if grantor else None
    if limit is not None:
        if expires_at is None:
            expires_at = limit
        elif expires_at > limit:
            raise Invalid(
                f"expires_at must not be later than the creating key's expiry, {limit.isoformat()}",
                loc=("body", "expires_at"),
            )
    prefix = secrets.token_hex(6)
    secret = f"iwk_{prefix}_{new_secret(32)}"
    key = ApiKey(
        created_by_key_id=grantor.key_id if grantor else None,
        user_id=owner.id,
        name=name,
        prefix=prefix,
        secret_hash=digest(secret),
        scopes=sorted(set(scopes)),
        tier=tier,
        expires_at=expires_at,
    )
    uow.session.add(key)
    uow.commit()
    return key, secret


def live_keys(uow: UnitOfWork, user_id: int) -> int:
    """Keys of the user neither revoked nor expired."""
    return (
        uow.session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(
                ApiKey.user_id == user_id,
                ApiKey.revoked_at.is_(None),
                or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > uow.now()),
            )
        )
        or 0
    )


def list_keys(*, uow: UnitOfWork, actor: Actor | None, query: ApiKeyQuery) -> Paged[ApiKey]:
    actor = require(actor, "read")
    query, position = resume(uow, "api-keys", query)
    stmt = select(ApiKey)
    if query.all:
        if not actor.is_admin:
            raise Forbidden("only admins may list every key")
    else:
        stmt = stmt.where(ApiKey.user_id == actor.user_id)
    newest_first = Order(ApiKey.created_at, ApiKey.id, descending=True)
    after = position.after if position is not None else None
    shape = listing(stmt, newest_first, after=after)
    return paginate(uow, shape, query, list_name="api-keys", position=position)


def get(*, uow: UnitOfWork, actor: Actor | None, key_id: int) -> ApiKey:
    return _get_managed(uow, require(actor, "read"), key_id, lock=False)


def revoke(
    *, uow: UnitOfWork, actor: Actor | None, key_id: int, precondition: Precondition | None = None
) -> None:
    """Owner or admin; effective for the next request of any process. The keys this key made go
    with it, and theirs: a key cannot leave a live descendant behind."""
    actor = require(actor, "keys:write")
    key = _get_managed(uow, actor, key_id)
    if precondition:
        precondition(key)
    now = uow.now()
    if key.revoked_at is None:
        key.revoked_at = now
    uow.revoked_credentials = True
    generation = [key.id]
    while generation:
        generation = list(
            uow.session.scalars(select(ApiKey.id).where(ApiKey.created_by_key_id.in_(generation)))
        )
        if generation:
            uow.session.execute(
                update(ApiKey)
                .where(ApiKey.id.in_(generation), ApiKey.revoked_at.is_(None))
                .values(revoked_at=now)
            )
    uow.commit()


def set_tier(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    key_id: int,
    data: ApiKeyUpdate,
    precondition: Precondition | None = None,
) -> ApiKey:
    """Admins move keys between the configured tiers."""
    actor = require(actor, "keys:write")
    if not actor.is_admin:
        raise Forbidden("only admins may change a key's tier")
    if data.tier not in uow.config.tiers:
        raise Invalid(
            f"unknown tier '{data.tier}'; configured: {', '.join(sorted(uow.config.tiers))}",
            loc=("body", "tier"),
        )
    key = _get_managed(uow, actor, key_id)
    if precondition:
        precondition(key)
    if key.tier != data.tier:
        key.tier = data.tier
        uow.revoked_credentials = True  # the tier is part of a remembered key
    uow.commit()
    return key


def _get_managed(uow: UnitOfWork, actor: Actor, key_id: int, *, lock: bool = True) -> ApiKey:
    key = uow.session.get(ApiKey, key_id, with_for_update=lock or None)
    # Someone else's key is 'not found' for a non-admin, so ids do not leak.
    if key is None or not (actor.is_admin or key.user_id == actor.user_id):
        raise NotFound("API key not found")
    return key
