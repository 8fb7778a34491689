"""Schemathesis hooks (SCHEMATHESIS_HOOKS): credentials of seeded users for every fuzzed call.

Each case carries exactly one credential. Half the operations that accept an API key (by a stable
hash of their label) run with a seeded admin's key; the others, and every bearer-only operation
(as its `security` says), with a fresh bearer token for a seeded regular user, minted per case so
that a fuzzed logout, which revokes the token it is called with, cannot turn every later case into
a 401. Every case that sends an Idempotency-Key gets a fresh one: a key reused with another body
is a 422 by contract, not a bug. A generated cursor is left out (see before_call).
"""

from __future__ import annotations

import os
import uuid
import zlib
from typing import Any

import schemathesis

from core.settings import AuthSettings
from schemas.common import CURSOR_MAX
from services.tokens import AccessTokens

_tokens = AccessTokens(AuthSettings(secret_key=os.environ["FUZZ_SECRET_KEY"]))


@schemathesis.auth(refresh_interval=None)
class SeededCredentials:
    def get(self, case: Any, context: Any) -> dict[str, str]:
        label = case.operation.label
        security = case.operation.definition.raw.get("security", [])
        takes_key = any("apiKey" in requirement for requirement in security)
        if takes_key and zlib.crc32(label.encode()) % 2:
            return {"X-API-Key": os.environ["FUZZ_API_KEY"]}
        token, _claims = _tokens.issue(user_id=int(os.environ["FUZZ_USER_ID"]), family_id=None)
        return {"Authorization": f"Bearer {token}"}

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        headers = {
            name: value
            for name, value in (case.headers or {}).items()
            if name.lower() not in ("authorization", "x-api-key")
        }
        if any(name.lower() == "idempotency-key" for name in headers):
            headers = {n: v for n, v in headers.items() if n.lower() != "idempotency-key"}
            headers["Idempotency-Key"] = uuid.uuid4().hex
        case.headers = {**headers, **data}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """A cursor is opaque and signed: a generated one that fits its schema can only be refused
    (tests/api/test_cursors.py covers made-up, tampered and foreign ones). It is left out, so the
    rest of the query is what the case tests; one outside the schema stays, to be refused.
    sort=relevance gets the search it needs."""
    query = case.query or {}
    cursor = query.get("cursor")
    if isinstance(cursor, str) and 1 <= len(cursor) <= CURSOR_MAX:
        case.query = query = {name: value for name, value in query.items() if name != "cursor"}
    # sort=relevance ranks a search: a rule between two parameters, which OpenAPI cannot state
    # (the parameter's description does; tests/api/test_search.py checks the 422 without it).
    if query.get("sort") == "relevance" and not query.get("search"):
        case.query = {**query, "search": "relevance"}
