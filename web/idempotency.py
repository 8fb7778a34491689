"""Pipeline step 6: Idempotency-Key on the POSTs that declare it. The first response is kept 24 h
and replayed, never re-run. Login and refresh take no part: a token pair is never replayed.

Policy: only 2xx responses are stored. Any other outcome changed nothing (one transaction per
request, rolled back on error), so its reservation is released and the client may retry the
same key, with a corrected body if it was a 4xx.

Stored bodies are encrypted (Fernet, a key derived from auth.secret_key): some responses carry
secrets - a login's tokens, a new API key - that must never sit in Redis or the database in
plain text, yet a retried request must get exactly the first response back.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from flask import Response, request

from core.idempotency import DatabaseStore, RedisStore, Saved
from core.redis import Breaker, RedisClient
from services.errors import Conflict, Invalid
from web.context import RequestState
from web.limits import identity

log = logging.getLogger("inkwell.idempotency")
HEADER = "Idempotency-Key"


class Idempotency:
    # Shared by the server's threads: immutable; a key is claimed atomically (INSERT or SET NX).
    def __init__(
        self, db: Any, redis_client: RedisClient | None, prefix: str, breaker: Breaker, secret: str
    ) -> None:
        self.secret = secret.encode()
        derived = hashlib.sha256(b"inkwell idempotency body encryption\0" + self.secret).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(derived))
        self.db_store = DatabaseStore(db)
        self.redis_store = RedisStore(redis_client, prefix) if redis_client is not None else None
        self.breaker = breaker

    def begin(self, state: RequestState) -> Response | None:
        """Reserve the key (the winner runs the request), or replay the stored response."""
        key = request.headers.get(HEADER)
        if key is None or state.operation is None or not state.operation.idempotent:
            return None
        if not 1 <= len(key) <= 255:
            raise Invalid("Idempotency-Key must be 1 to 255 characters", loc=("header", HEADER))
        fingerprint = self._fingerprint()
        scope = hmac.new(self.secret, f"{identity(state)}\0{key}".encode(), hashlib.sha256).hexdigest()
        _end_request_transaction(state)
        store, saved = self._reserve(scope, fingerprint)
        if saved is None:
            state.idempotency = (store, scope, fingerprint)
            return None
        if saved.fingerprint != fingerprint:
            raise Invalid(
                "this Idempotency-Key was used with a different request body", loc=("header", HEADER)
            )
        if saved.state != "done":
            raise Conflict("a request with this Idempotency-Key is still being processed; retry later")
        state.replayed = True
        try:
            body = self.fernet.decrypt(saved.body)
        except InvalidToken:  # stored under another auth.secret_key
            raise Conflict(
                "the response stored for this Idempotency-Key can no longer be read; use a new key"
            )
        response = Response(body, status=saved.status, content_type=saved.content_type)
        if saved.location:
            response.headers["Location"] = saved.location
        if saved.cache_control:
            response.headers["Cache-Control"] = saved.cache_control
        response.headers["Idempotent-Replayed"] = "true"
        return response

    def finish(self, state: RequestState, response: Response) -> None:
        """Store a 2xx response for replay; release the key after any other outcome."""
        reserved, state.idempotency = state.idempotency, None
        if reserved is None:
            return
        store, scope, fingerprint = reserved
        _end_request_transaction(state)  # the response is rendered; the use case has committed
        try:
            if 200 <= response.status_code < 300:
                saved = Saved(
                    fingerprint,
                    "done",
                    response.status_code,
                    self.fernet.encrypt(response.get_data()),
                    response.headers.get("Location"),
                    response.headers.get("Content-Type"),
                    response.headers.get("Cache-Control"),
                )
                store.complete(scope, fingerprint, saved)
            else:
                store.release(scope)
        except Exception as exc:
            # The write is done; failing the response now would invite a duplicate retry.
            log.error("could not record Idempotency-Key outcome: %s", exc)
            if store is self.redis_store:
                self.breaker.trip()

    def _fingerprint(self) -> str:
        """Method + path + canonical JSON body, keyed with the app secret: a stored fingerprint
        of a body holding a password cannot be brute-forced offline."""
        raw = request.get_data(cache=True)
        with contextlib.suppress(orjson.JSONDecodeError):
            raw = orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)
        return hmac.new(
            self.secret, f"{request.method} {request.path}\n".encode() + raw, hashlib.sha256
        ).hexdigest()

    def _reserve(self, scope: str, fingerprint: str) -> tuple[Any, Saved | None]:
        if self.redis_store is not None and self.breaker.allow():
            try:
                return self.redis_store, self.redis_store.reserve(scope, fingerprint)
            except Exception as exc:
                log.warning("Redis unavailable for idempotency (%s); using the database", exc)
                self.breaker.trip()
        return self.db_store, self.db_store.reserve(scope, fingerprint)


def _end_request_transaction(state: RequestState) -> None:
    """On SQLite the request's write transaction holds the database lock our own short one needs."""
    if state.uow is not None:
        state.uow.rollback()
