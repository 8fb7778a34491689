"""Schemathesis hooks (SCHEMATHESIS_HOOKS): credentials of seeded users for every fuzzed call.

Half the operations (by a stable hash of their label) run with a seeded admin's API key, the
other half with a fresh bearer token for a seeded regular user, minted per case so that a fuzzed
logout, which revokes the token it is called with, cannot turn every later case into a 401.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import schemathesis

from core.settings import AuthSettings
from services.tokens import AccessTokens

_tokens = AccessTokens(AuthSettings(secret_key=os.environ["FUZZ_SECRET_KEY"]))


@schemathesis.auth(refresh_interval=None)
class SeededCredentials:
    def get(self, case: Any, context: Any) -> dict[str, str]:
        label = case.operation.label
        if zlib.crc32(label.encode()) % 2 and not label.endswith("/auth/logout"):  # logout: bearer only
            return {"X-API-Key": os.environ["FUZZ_API_KEY"]}
        token, _claims = _tokens.issue(user_id=int(os.environ["FUZZ_USER_ID"]), family_id=None)
        return {"Authorization": f"Bearer {token}"}

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        case.headers = {**(case.headers or {}), **data}
