"""Logging: one JSON object per line in production (log.json), plain text in development.

Every record logged during a request carries its request id, so an error line and the
request's access line can be joined. Control characters are escaped in both formats: a path
or an exception message carrying CR LF (or a terminal escape) must not forge a log line.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import g, has_request_context

from core.settings import LogSettings

STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# C0, DEL and C1, plus the Unicode line and paragraph separators that some viewers break at.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: str) -> str:
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
        # orjson escapes C0 only; the \\uXXXX form keeps the line valid JSON with the same values.
        return escape(orjson.dumps(entry, default=str).decode())


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT on one escaped line; a traceback follows on escaped lines indented by four
    spaces, so that no text from a request can start a line that looks like a record."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape(super().formatMessage(record))

    def formatException(self, ei: Any) -> str:
        return _continuation(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _continuation(super().formatStack(stack_info))


def _continuation(text: str) -> str:
    return "\n".join("    " + escape(line) for line in text.split("\n"))


def configure(settings: LogSettings) -> None:
    """Idempotent: replaces the handler it installed before (tests build many apps)."""
    # No line shows the caller's file/line, thread or process, so skip computing them: the
    # logging docs' "Optimization" recipe; it is about a third of an access line's cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logger = logging.getLogger("inkwell")
    for handler in [h for h in logger.handlers if getattr(h, "inkwell", False)]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.inkwell = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.json_lines else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(settings.level.upper())
