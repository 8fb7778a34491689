"""Per-request plumbing: request id, the unit of work, and who is calling."""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, current_app, g, request

from core.container import Container
from services import auth
from services.actor import Actor
from services.errors import BadRequest, Forbidden, Unauthorized
from services.uow import UnitOfWork

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def state() -> Container:
    return current_app.extensions["inkwell"]


def uow() -> UnitOfWork:
    """The request's unit of work, opened on first use (cached reads never touch the database)."""
    unit = g.get("uow")
    if unit is None:
        unit = UnitOfWork(state().db.session(write=request.method not in SAFE_METHODS))
        g.uow = unit
    return unit


def current_actor() -> Actor | None:
    return g.get("actor")


def _assign_request_id() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex


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
        g.actor = auth.authenticate_bearer(
            uow=uow(), tokens=container.tokens, denylist=container.denylist, token=token.strip()
        )
        return
    actor, touch_due = auth.authenticate_key(uow=uow(), secret=key or "")
    if request.method in SAFE_METHODS and not actor.can("read"):
        raise Forbidden("this API key lacks the 'read' scope")
    g.actor = actor
    if touch_due:
        if request.method in SAFE_METHODS:
            _touch_key(container, actor.key_id or 0)
        else:
            # A write request's transaction already holds SQLite's write lock: a second write
            # transaction now would wait on this very request (10 s, then a 503). Touch after it.
            g.touch_key_id = actor.key_id


def _touch_key(container: Container, key_id: int) -> None:
    # Its own short write transaction, so a read request never upgrades to a write lock.
    touch = UnitOfWork(container.db.session(write=True))
    try:
        auth.touch_key(uow=touch, key_id=key_id)
    finally:
        touch.close()


def _close_uow(_exc: BaseException | None) -> None:
    unit = g.pop("uow", None)
    if unit is not None:
        unit.close()
    key_id = g.pop("touch_key_id", None)
    if key_id is not None:
        try:
            _touch_key(state(), key_id)
        except Exception:  # last_used_at is best effort; never fail a finished request for it
            logging.getLogger("inkwell.auth").warning("could not record API key use", exc_info=True)


def install(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.before_request(_authenticate)
    app.teardown_request(_close_uow)

    @app.after_request
    def _echo_request_id(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
