"""Where Inkwell goes around a library's public API: one module per library, nowhere else.

Each module names the release it was written for and checks the installed one at import. On any
other release its `SUPPORTED` is False and it uses the library's own code instead (logging once
what it gave up), so an upgrade loses a speed-up or a refinement, never correctness; the tests
fake another release to run that path (tests/unit/test_adapters.py).

- waitress: the worker's own loop (drain on SIGTERM, reload on SIGHUP), a cap on connections per
  client address, keep-alive after 204 and 304, header and body in one send
- werkzeug: response headers sent as they are when nothing in them needs fixing
- prometheus: the value class chosen again once the multi-process directory is set
- flask_login: its remember-cookie hook runs after the console's requests only
"""

from __future__ import annotations

import logging
from importlib import metadata

log = logging.getLogger("inkwell.adapters")


def written_for(distribution: str, release: str, gives_up: str) -> bool:
    """Whether the installed `distribution` is `release`; if not, say once what is given up."""
    installed = metadata.version(distribution)
    if installed == release:
        return True
    log.warning("%s %s is installed, not %s: %s", distribution, installed, release, gives_up)
    return False
