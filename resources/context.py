"""Per-request plumbing: request id, the unit of work, and who is calling."""

from __future__ import annotations

import logging
import os
import re

from flask import Flask, current_app, g, request

from core.container import Container
from services import auth
from services.actor import Actor
from services.errors import BadRequest, Forbidden, Unauthorized
from services.uow import UnitOfWork

log = logging.getLogger("inkwell.auth")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def state() -> Container:
    return current_app.extensions["inkwell"]


def uow() -> UnitOfWork:
    """The request's unit of work, opened on first use (cached reads never touch the database)."""
    unit = g.get("uow")
    if unit is None:
        container = state()
        unit = UnitOfWork(
            container.db.session(write=request.method not in SAFE_METHODS),
            totals=container.extras.get("totals"),
        )
        g.uow = unit
    return unit


def current_actor() -> Actor | None:
    return g.get("actor")


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    # 128 random bits as hex: what uuid4().hex carries, without building a UUID per request.
    g.request_id = given if REQUEST_ID.match(given) else os.urandom(16).hex()


def _authenticate() -> None:
    """Resolve the caller once per request; a bad credential is a 401 even on public endpoints."""
    g.actor = None
    header = request.headers.get("Authorization")
    key = request.headers.get("X-API-Key")
    if header is None and key is None:
        return
    if header is not None and key is not None:
        raise BadRequest("send either Authorization or X-API-Key, not both")
    container = state()
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <access token>'")
        g.actor = auth.authenticate_bearer(uow=uow(), tokens=container.tokens, token=token.strip())
        return
    actor, touch_due = auth.authenticate_key(uow=uow(), secret=key or "")
    if request.method in SAFE_METHODS and not actor.can("read"):
        raise Forbidden("this API key lacks the 'read' scope")
    g.actor = actor
    if touch_due:
        g.touch_key_id = actor.key_id


def _touch_key() -> None:
    """Record the key's use in its own short write transaction, once the request's is closed.

    Never while the request's transaction is open: a read request must not take a write lock,
    and on SQLite a write request already holds the one write lock (BEGIN IMMEDIATE), so a
    second writer from the same request would wait on itself until the busy timeout.
    """
    key_id = g.pop("touch_key_id", None)
    if key_id is None:
        return
    touch = UnitOfWork(state().db.session(write=True))
    try:
        auth.touch_key(uow=touch, key_id=key_id)
    except Exception as exc:  # last_used_at is bookkeeping; it never fails a served request
        log.warning("could not record API key use: %s", exc.__class__.__name__)
    finally:
        touch.close()


def _close_uow(_exc: BaseException | None) -> None:
    unit = g.pop("uow", None)
    if unit is not None:
        unit.close()
    _touch_key()


def install(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.before_request(_authenticate)
    app.teardown_request(_close_uow)

    @app.after_request
    def _echo_request_id(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
