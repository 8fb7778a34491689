"""The signing secret when none is configured: generated once per checkout and kept in a file.

A published default would let anyone mint an access token for any user, so there is none. In
development and tests an empty `auth.secret_key` means "use the one in `auth.secret_key_file`",
which the first run creates (random, mode 0600). Production needs it configured: hosts sharing
a database must share the secret, which a file made on one host cannot give them.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from core.settings import ROOT, Settings

log = logging.getLogger("inkwell.settings")


def with_secret_key(settings: Settings) -> Settings:
    """`settings` with auth.secret_key filled from its file when it is empty."""
    if settings.auth.secret_key:
        return settings
    path = Path(settings.auth.secret_key_file)
    secret = read_or_create(path if path.is_absolute() else ROOT / path)
    auth = settings.auth.model_copy(update={"secret_key": secret})
    return settings.model_copy(update={"auth": auth})


def read_or_create(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: a second process starting at the same moment
        # either links first or reads the finished file, never half of one.
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(scratch, path)
            log.warning("auth.secret_key is not set: generated one in %s (mode 0600)", path)
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise SystemExit(f"{path} holds no usable secret (32+ characters): delete it to generate a new one")
    return secret
