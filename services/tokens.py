"""Access tokens (JWT, RFC 8725 rules) and opaque refresh/API-key secrets."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from core.settings import AuthSettings
from schemas.common import MAX_ID
from services.errors import Unauthorized

ACCESS_TYP = "at+jwt"  # RFC 9068: a typ no other token of ours carries
ALGORITHM = "HS256"


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret: enough for random tokens (no password stretching needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    jti: str
    family_id: str | None
    expires_at: int


class AccessTokens:
    def __init__(self, settings: AuthSettings) -> None:
        self._key = settings.secret_key
        self._issuer = settings.issuer
        self._audience = settings.audience
        self.ttl = settings.access_ttl_seconds
        self._leeway = settings.leeway_seconds

    def accepted_until(self, expires_at: int) -> int:
        """The unix time until which decode still accepts a token expiring at `expires_at`."""
        return expires_at + self._leeway

    def family_accepted_until(self) -> int:
        """The unix time until which a token of a login issued now may still be accepted: its
        ttl and the leeway, plus a margin for one issued while the login is being revoked. On
        the wall clock, PyJWT's: what a denylist entry for the login must outlive."""
        return self.accepted_until(int(time.time()) + self.ttl) + 60

    def issue(self, *, user_id: int, family_id: str | None) -> tuple[str, AccessClaims]:
        now = int(time.time())
        claims = AccessClaims(
            user_id=user_id, jti=new_secret(16), family_id=family_id, expires_at=now + self.ttl
        )
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "iat": now,
            "nbf": now,
            "exp": claims.expires_at,
            "jti": claims.jti,
        }
        if family_id:
            payload["fam"] = family_id
        token = jwt.encode(payload, self._key, algorithm=ALGORITHM, headers={"typ": ACCESS_TYP})
        return token, claims

    def decode(self, token: str) -> AccessClaims:
        """Verify everything RFC 8725 asks for; any failure is the same 401."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM or header.get("typ") != ACCESS_TYP:
                raise Unauthorized("invalid access token")
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
            )
            if payload["iat"] > time.time() + self._leeway:
                raise Unauthorized("invalid access token")
            user_id = int(payload["sub"])
            if not 1 <= user_id <= MAX_ID:  # a number no row can have is no credential
                raise Unauthorized("invalid access token")
            return AccessClaims(
                user_id=user_id,
                jti=str(payload["jti"]),
                family_id=payload.get("fam"),
                expires_at=int(payload["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            raise Unauthorized("invalid access token")
