"""prometheus-client 0.26.0: its value class chosen again once the multi-process directory is set.
On another release, the class it chose at import (set PROMETHEUS_MULTIPROC_DIR in the environment
before starting `serve --workers N`, the library's documented way)."""

from __future__ import annotations

from prometheus_client import values

from adapters import written_for

SUPPORTED = written_for(
    "prometheus-client",
    "0.26.0",
    "the value class chosen at import: set PROMETHEUS_MULTIPROC_DIR before starting several workers",
)


def use_multiprocess_values() -> None:
    """prometheus-client picks its value class at import; the server sets the directory later."""
    if SUPPORTED:
        values.ValueClass = values.get_value_class()
