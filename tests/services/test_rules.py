"""Business rules that need no HTTP: slugs, rights, secrets, tokens."""

from __future__ import annotations

import time

import jwt
import pytest

from core.settings import AuthSettings
from services import passwords
from services.actor import ALL_SCOPES, Actor, require, scopes_of_role
from services.auth import key_prefix
from services.errors import Forbidden, Unauthorized
from services.posts import slugify
from services.tokens import ACCESS_TYP, AccessTokens


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Hello, World!", "hello-world"),
        ("Héllo wörld — ça va?", "hello-world-ca-va"),
        ("  --Many   spaces--  ", "many-spaces"),
        ("日本語", "post"),  # nothing ASCII survives: a fixed word, then -2, -3 on collision
        ("A" * 300, "a" * 192),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_only_admins_hold_items_write() -> None:
    assert "items:write" not in scopes_of_role("user")
    assert scopes_of_role("admin") == ALL_SCOPES


def test_require_distinguishes_anonymous_from_lacking_a_right() -> None:
    reader = Actor(user_id=1, username="a", role="user", scopes=frozenset({"read"}), key_id=7)
    with pytest.raises(Unauthorized):
        require(None, "read")
    with pytest.raises(Forbidden):
        require(reader, "posts:write")
    assert require(reader, "read") is reader


@pytest.mark.parametrize(
    ("secret", "prefix"),
    [
        ("iwk_abc123_rest_with_underscores", "abc123"),
        ("iwk__x", None),
        ("nope", None),
        ("iwk_" + "a" * 17 + "_x", None),
    ],
)
def test_key_prefix(secret: str, prefix: str | None) -> None:
    assert key_prefix(secret) == prefix


def test_access_tokens_round_trip_and_refuse_other_types() -> None:
    tokens = AccessTokens(AuthSettings(secret_key="k" * 40))
    token, claims = tokens.issue(user_id=5, family_id="fam1")
    decoded = tokens.decode(token)
    assert (decoded.user_id, decoded.jti, decoded.family_id) == (5, claims.jti, "fam1")
    assert jwt.get_unverified_header(token)["typ"] == ACCESS_TYP
    payload = jwt.decode(token, "k" * 40, algorithms=["HS256"], audience="inkwell-api")
    forged = jwt.encode({**payload, "exp": int(time.time()) + 60}, "k" * 40, headers={"typ": "JWT"})
    with pytest.raises(Unauthorized):
        tokens.decode(forged)  # a JWT that is not an access token (wrong typ)


def test_password_hashes_are_argon2id_with_owasp_parameters() -> None:
    stored = passwords.hash_password("correct-horse-battery")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(stored, "correct-horse-battery")
    assert not passwords.verify_password(stored, "wrong")
    assert not passwords.verify_password("not-a-hash", "anything")


def test_environment_replaces_a_table_of_settings_toml(monkeypatch) -> None:
    from core.settings import Settings

    monkeypatch.setenv("APP_RATE_LIMIT__TIERS", '{"gold": "100/minute"}')
    monkeypatch.setenv("APP_DATABASE__URL", "sqlite:///elsewhere.db")
    settings = Settings()
    assert settings.rate_limit.tiers == {"gold": "100/minute"}
    assert settings.database.url == "sqlite:///elsewhere.db"
    assert settings.database.busy_timeout_ms == 10_000  # the rest of the section still comes from the file
