"""argon2id password hashing with OWASP's recommended parameters (m=19 MiB, t=2, p=1)."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash("inkwell-dummy-password")


def burn_equal_work(password: str) -> None:
    """Verify against a dummy hash so an unknown user costs what a wrong password costs.

    Without it, login answers faster for usernames that do not exist, which lets an
    attacker enumerate accounts by timing.
    """
    verify_password(_dummy_hash(), password)
