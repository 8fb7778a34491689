"""argon2id password hashing with OWASP's recommended parameters (m=19 MiB, t=2, p=1)."""

from __future__ import annotations

import sys
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.errors import Invalid

_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _load_common() -> frozenset[str]:
    """zxcvbn's 30,000 most common passwords (NIST SP 800-63B 3.1.1.2 asks for a blocklist).

    Only this list is kept: zxcvbn's modules also hold its word lists and ranked dictionaries,
    which, left in memory, slowed every request (docs/performance.md); nothing else uses them.
    """
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    common = frozenset(FREQUENCY_LISTS["passwords"])
    for name in [m for m in sys.modules if m == "zxcvbn" or m.startswith("zxcvbn.")]:
        del sys.modules[name]
    return common


_COMMON = _load_common()


def refuse_weak(password: str, *, username: str, email: str) -> None:
    """422 for a password an attacker tries first: common, blank, or the account's own name."""
    lowered = password.strip().lower()
    if not lowered:
        reason = "a password cannot be only spaces"
    elif lowered in _COMMON:
        reason = "this password is one of the most common ones; choose one that is harder to guess"
    elif lowered in (username.lower(), email.lower(), email.split("@", 1)[0].lower()):
        reason = "a password cannot be your username or email address"
    else:
        return
    raise Invalid(reason, loc=("body", "password"))


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
