"""Pipeline steps 2 and 4: who is calling (authenticate), and may they (authorize, from the declaration).

A caller this process has seen is remembered (web/credentials.py); `authenticate` names the
AUTH version among the request's reads, and `confirm` checks with what the round trip read that
nothing was revoked since, else the database is asked again. Services keep their own rules
(ownership, "only an admin may list every key") as a second line; the declaration is the first,
so a service that forgets a check cannot open an endpoint.
"""

from __future__ import annotations

from flask import request

from services import auth
from services.errors import BadRequest, Forbidden, Unauthorized
from web.context import SAFE_METHODS, RequestState, uow
from web.contract import Access
from web.credentials import CredentialCache
from web.versions import Namespace, Versions


def authenticate(state: RequestState, remembered: CredentialCache, versions: Versions) -> None:
    """Resolve the caller. A failure is kept, not raised: the limiter counts the request first."""
    operation = state.operation
    if state.method == "OPTIONS" or (operation is not None and operation.access is Access.NONE):
        return
    environ = request.environ  # read directly: cheaper than a werkzeug header lookup each
    header = environ.get("HTTP_AUTHORIZATION")
    key = environ.get("HTTP_X_API_KEY")
    if header is None and key is None:
        return
    try:
        if header is not None and key is not None:
            raise BadRequest("send either Authorization or X-API-Key, not both")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Authorization must be 'Bearer <access token>'")
            kind, secret = "bearer", token.strip()
        else:
            kind, secret = "key", key or ""
        fingerprint = remembered.fingerprint(kind, secret)
        entry = remembered.get(fingerprint)
        if entry is not None:
            state.actor, state.credential = entry.actor, (fingerprint, entry.version)
            state.reads.want(versions.auth_key)
            if entry.touch_due():
                state.touch_key_id = entry.actor.key_id
            return
        # Read before the database, so a revocation committed meanwhile leaves a stale stamp.
        version = versions.read(Namespace.AUTH)
        if kind == "bearer":
            state.actor = auth.authenticate_bearer(uow=uow(), token=secret)
        else:
            state.actor, touch_due = auth.authenticate_key(uow=uow(), secret=secret)
            if touch_due:
                state.touch_key_id = state.actor.key_id
        if version is not None:
            remembered.remember(fingerprint, state.actor, version)
    except (BadRequest, Unauthorized) as exc:
        state.auth_failure = exc


def confirm(state: RequestState, remembered: CredentialCache, versions: Versions) -> None:
    """A remembered caller stands only if the auth version is still the one it was stamped with."""
    if state.credential is None:
        return
    _fingerprint, stamp = state.credential
    # After a Redis error or a failover the version read may predate a lost revocation's bump:
    # versions.read() bumps every namespace first.
    read, raw = state.reads.value(versions.auth_key)
    if read and not versions.must_recover():
        current = int(raw) if raw is not None else None
    else:
        current = versions.read(Namespace.AUTH)
    if current is not None and current == stamp:
        return
    # Something was revoked (or Redis cannot tell): forget everyone, ask the database.
    remembered.forget_all()
    state.actor = state.credential = None
    authenticate(state, remembered, versions)


def authorize(state: RequestState) -> None:
    """Enforce the operation's declared access, scope and role."""
    operation, actor = state.operation, state.actor
    if operation is None or operation.access is Access.NONE:
        return
    if actor is None:
        if operation.access is not Access.ANYONE:
            raise Unauthorized("authentication required")
        return
    if actor.key_id is not None:
        if operation.access is Access.BEARER:
            raise Forbidden("this operation needs a bearer token; no API-key scope covers it")
        if state.method in SAFE_METHODS and not actor.can("read"):
            raise Forbidden("this API key lacks the 'read' scope")
    if operation.scope is not None and not actor.can(operation.scope):
        raise Forbidden(f"this credential lacks the '{operation.scope}' right")
    if operation.admin and not actor.is_admin:
        raise Forbidden("admin only")
