"""Registration, login, refresh rotation, logout, and turning credentials into an Actor."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from models import ApiKey, LoginOrigin, RefreshToken, User
from schemas.auth import LoginIn
from schemas.users import UserRegister
from services import denylist, passwords
from services.actor import Actor, scopes_of_role
from services.denylist import family_key
from services.errors import Conflict, Forbidden, Unauthorized
from services.tokens import digest, new_secret
from services.uow import UnitOfWork

KEY_TOUCH_INTERVAL = timedelta(minutes=1)
# An address a user logged in from stays known this long after their last login from it.
KNOWN_ORIGIN_TTL = timedelta(days=90)
BAD_LOGIN = "invalid username or password"
HEX_PREFIX = re.compile(r"[0-9a-f]{1,16}")


@dataclass(frozen=True, slots=True)
class IssuedPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user_id: int
    family_id: str  # the login: revoking the family ends it (the console's session is one)


def register(*, uow: UnitOfWork, data: UserRegister) -> User:
    """Create a user; username and email are unique ignoring case."""
    passwords.refuse_weak(data.password, username=data.username, email=data.email)
    # Hash before touching the database: on SQLite the write transaction holds the one write
    # lock, and argon2 is deliberately slow.
    password_hash = passwords.hash_password(data.password)
    taken = uow.session.scalar(
        select(User.id).where(
            or_(func.lower(User.username) == data.username.lower(), func.lower(User.email) == data.email)
        )
    )
    if taken is not None:
        raise Conflict("username or email is already taken")
    user = User(username=data.username, email=data.email, password_hash=password_hash)
    uow.session.add(user)
    uow.commit()
    return user


def find_login_user(*, uow: UnitOfWork, login: str) -> User | None:
    login = login.lower()
    column = User.email if "@" in login else User.username
    return uow.session.scalar(select(User).where(func.lower(column) == login))


def login(*, uow: UnitOfWork, data: LoginIn, address: str | None) -> IssuedPair:
    """Check the password (same work for unknown users) and start a new refresh family.

    The address a login succeeds from becomes one of the user's known origins (known_origin).
    """
    user = find_login_user(uow=uow, login=data.username)
    user_id, stored_hash = (user.id, user.password_hash) if user is not None else (None, None)
    # Nothing written yet: end the read so no lock is held while argon2 runs (SQLite's write
    # lock would otherwise serialise every login behind each other's hashing).
    uow.rollback()
    if user_id is None or stored_hash is None:
        passwords.burn_equal_work(data.password)
        raise Unauthorized(BAD_LOGIN)
    if not passwords.verify_password(stored_hash, data.password):
        raise Unauthorized(BAD_LOGIN)
    if passwords.needs_rehash(stored_hash):
        new_hash = passwords.hash_password(data.password)
        uow.session.execute(update(User).where(User.id == user_id).values(password_hash=new_hash))
    pair = _issue_pair(uow=uow, user_id=user_id, family_id=new_secret(12))
    if address:
        _remember_origin(uow, user_id, address)
    uow.commit()
    return pair


def known_origin(*, uow: UnitOfWork, user_id: int, address: str) -> bool:
    """Whether the user logged in from this address within KNOWN_ORIGIN_TTL."""
    since = uow.now() - KNOWN_ORIGIN_TTL
    found = uow.session.scalar(
        select(LoginOrigin.user_id).where(
            LoginOrigin.user_id == user_id,
            LoginOrigin.address_hash == digest(address),
            LoginOrigin.last_login_at > since,
        )
    )
    return found is not None


def _remember_origin(uow: UnitOfWork, user_id: int, address: str) -> None:
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = uow.now()
    stmt = insert(LoginOrigin).values(user_id=user_id, address_hash=digest(address), last_login_at=now)
    uow.session.execute(
        stmt.on_conflict_do_update(index_elements=["user_id", "address_hash"], set_={"last_login_at": now})
    )


def refresh(*, uow: UnitOfWork, refresh_token: str) -> IssuedPair:
    """Rotate: a refresh token is good once; a spent one presented again revokes its family."""
    row = uow.session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == digest(refresh_token)).with_for_update()
    )
    now = uow.now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("invalid refresh token")
    if row.used_at is not None:
        # Reuse means the token leaked: whoever holds the family now loses it (RFC 9700 4.14.2).
        _revoke_family(uow=uow, family_id=row.family_id)
        uow.commit()
        raise Unauthorized("refresh token reuse detected; the session was revoked")
    row.used_at = now
    pair = _issue_pair(uow=uow, user_id=row.user_id, family_id=row.family_id)
    uow.commit()
    return pair


def logout(
    *,
    uow: UnitOfWork,
    actor: Actor | None,
    refresh_token: str | None,
) -> None:
    """End the login the access token belongs to (its refresh tokens and every access token of it),
    and the given refresh token's login too."""
    if actor is not None and actor.key_id is not None:
        raise Forbidden("logout ends a bearer session; revoke an API key with DELETE /api-keys/{id}")
    if actor is None or actor.token_id is None or actor.token_expires_at is None:
        raise Unauthorized("logout needs a bearer access token")
    denylist.revoke(uow, actor.token_id, uow.config.tokens.accepted_until(actor.token_expires_at))
    uow.revoked_credentials = True
    if actor.family_id is not None:
        _revoke_family(uow=uow, family_id=actor.family_id)
    if refresh_token:
        row = uow.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(refresh_token)))
        if row is not None and row.user_id == actor.user_id:
            _revoke_family(uow=uow, family_id=row.family_id)
    uow.commit()


def session_actor(*, uow: UnitOfWork, user_id: int, family_id: str) -> Actor:
    """The user of a live login family (a console session): revoked or expired, it is over."""
    row = uow.session.execute(
        select(User)
        .join(RefreshToken, RefreshToken.user_id == User.id)
        .where(
            User.id == user_id,
            RefreshToken.family_id == family_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > uow.now(),
        )
        .limit(1)
    ).first()
    if row is None:
        raise Unauthorized("the session has ended")
    user = row[0]
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        scopes=scopes_of_role(user.role),
        family_id=family_id,
    )


def end_session(*, uow: UnitOfWork, user_id: int, family_id: str) -> None:
    """Log a login family out (the console's logout): its refresh and access tokens stop working."""
    owned = uow.session.scalar(
        select(RefreshToken.id).where(RefreshToken.family_id == family_id, RefreshToken.user_id == user_id)
    )
    if owned is not None:
        _revoke_family(uow=uow, family_id=family_id)
    uow.commit()


def revoke_other_families(*, uow: UnitOfWork, user_id: int, keep_family: str | None) -> None:
    """Used on password change: every other login of the user ends. Does not commit."""
    families = uow.session.scalars(
        select(RefreshToken.family_id)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .distinct()
    )
    for family_id in list(families):
        if family_id != keep_family:
            _revoke_family(uow=uow, family_id=family_id)


def authenticate_bearer(*, uow: UnitOfWork, token: str) -> Actor:
    claims = uow.config.tokens.decode(token)
    keys = [claims.jti] + ([family_key(claims.family_id)] if claims.family_id else [])
    # One query: the caller and whether this token (or its login) was revoked.
    row = uow.session.execute(
        select(User, denylist.any_denied(keys).label("denied")).where(User.id == claims.user_id)
    ).first()
    if row is None:
        raise Unauthorized("invalid access token")
    user, denied = row
    if denied:
        raise Unauthorized("access token was revoked")
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        scopes=scopes_of_role(user.role),
        token_id=claims.jti,
        family_id=claims.family_id,
        token_expires_at=claims.expires_at,
    )


def authenticate_key(*, uow: UnitOfWork, secret: str) -> tuple[Actor, bool]:
    """The key's owner narrowed to its scopes, and whether last_used_at is due an update."""
    prefix = key_prefix(secret)
    key = uow.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    # Compare digests in constant time; a missing row still costs one comparison.
    stored = key.secret_hash if key is not None else "0" * 64
    if not hmac.compare_digest(stored, digest(secret)) or key is None:
        raise Unauthorized("invalid API key")
    now = uow.now()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise Unauthorized("API key revoked or expired")
    owner_scopes = scopes_of_role(key.user.role)
    actor = Actor(
        user_id=key.user.id,
        username=key.user.username,
        role=key.user.role,
        scopes=owner_scopes & frozenset(key.scopes),
        key_id=key.id,
        tier=key.tier,
        key_expires_at=key.expires_at,
    )
    due = key.last_used_at is None or now - key.last_used_at >= KEY_TOUCH_INTERVAL
    return actor, due


def key_prefix(secret: str) -> str | None:
    """Secrets look like `iwk_<prefix>_<random>`; the prefix finds the row."""
    parts = secret.split("_", 2)
    # Only the hex we issue reaches the query (a NUL byte would be a database error on PostgreSQL).
    if len(parts) != 3 or parts[0] != "iwk" or not HEX_PREFIX.fullmatch(parts[1]):
        return None
    return parts[1]


def touch_key(*, uow: UnitOfWork, key_id: int) -> None:
    """Record use at most once a minute, so reads do not write on every request."""
    now = uow.now()
    uow.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - KEY_TOUCH_INTERVAL))
        .values(last_used_at=now)
    )
    uow.commit()


def _issue_pair(*, uow: UnitOfWork, user_id: int, family_id: str) -> IssuedPair:
    tokens = uow.config.tokens
    secret = new_secret(32)
    uow.session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=digest(secret),
            expires_at=uow.now() + timedelta(seconds=uow.config.refresh_ttl_seconds),
        )
    )
    access, _claims = tokens.issue(user_id=user_id, family_id=family_id)
    return IssuedPair(
        access_token=access, refresh_token=secret, expires_in=tokens.ttl, user_id=user_id, family_id=family_id
    )


def _revoke_family(*, uow: UnitOfWork, family_id: str) -> None:
    uow.revoked_credentials = True
    now = uow.now()
    uow.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    denylist.revoke(uow, family_key(family_id), uow.config.tokens.family_accepted_until())
