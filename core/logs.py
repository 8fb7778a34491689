"""Logging: one JSON object per line in production (log.json), plain text in development.

Every record logged during a request carries its request id, so an error line and the
request's access line can be joined.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import g, has_request_context

from core.settings import LogSettings

STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            state = g.get("inkwell") if has_request_context() else None
            record.request_id = state.request_id if state is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, request_id, any `extra=` fields, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure(settings: LogSettings) -> None:
    """Idempotent: replaces the handler it installed before (tests build many apps)."""
    # No line shows the caller's file/line, thread or process, so skip computing them: the
    # logging docs' "Optimization" recipe; it is about a third of an access line's cost.
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logger = logging.getLogger("inkwell")
    for handler in [h for h in logger.handlers if getattr(h, "_inkwell", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._inkwell = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.json_lines else logging.Formatter(TEXT_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(settings.level.upper())
