"""adapters/waitress.py: a response of one chunk of known length goes out in one send,
anything else the way waitress sends it (checked against waitress's own task)."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from waitress.adjustments import Adjustments
from waitress.parser import HTTPRequestParser
from waitress.task import WSGITask

from adapters.waitress import Task


class WaitressWrite(Task):
    """The same task (keep-alive included) with waitress's own write."""

    write = WSGITask.write


class Channel:
    def __init__(self) -> None:
        adj = Adjustments()
        self.adj = adj
        self.server = SimpleNamespace(adj=adj, inkwell_draining=False)
        self.sends: list[bytes] = []

    def write_soon(self, data: bytes) -> int:
        self.sends.append(bytes(data))
        return len(data)


def run(task_class: type[WSGITask], status: str, headers: list[tuple[str, str]], chunks: list[bytes]) -> Any:
    parser = HTTPRequestParser(Adjustments())
    parser.received(b"GET /api/v1/posts/1 HTTP/1.1\r\nHost: x\r\n\r\n")
    channel = Channel()
    task = task_class(channel, parser)
    task.complete = True
    task.status = status
    task.response_headers = list(headers)
    for name, value in headers:
        if name == "Content-Length":
            task.content_length = int(value)
    for chunk in chunks:
        task.write(chunk)
    if not task.wrote_header:
        task.write(b"")
    return channel.sends, task


BODY = b'{"id": 1}'
CASES = {
    "one chunk of known length": ("200 OK", [("Content-Length", str(len(BODY)))], [BODY]),
    "two chunks": ("200 OK", [("Content-Length", str(2 * len(BODY)))], [BODY, BODY]),
    "length unknown (chunked)": ("200 OK", [], [BODY, BODY]),
    "no body (304)": ("304 Not Modified", [("ETag", '"a"')], []),
    "more bytes than the length": ("200 OK", [("Content-Length", "2")], [BODY]),
}


@pytest.mark.parametrize("case", CASES)
def test_same_bytes_as_waitress(case: str) -> None:
    ours, our_task = run(Task, *CASES[case])
    theirs, their_task = run(WaitressWrite, *CASES[case])
    assert undated(b"".join(ours)) == undated(b"".join(theirs))
    assert our_task.content_bytes_written == their_task.content_bytes_written


def test_one_chunk_of_known_length_is_one_send() -> None:
    sends, _ = run(Task, *CASES["one chunk of known length"])
    assert len(sends) == 1
    assert sends[0].startswith(b"HTTP/1.1 200 OK\r\n") and sends[0].endswith(b"\r\n\r\n" + BODY)
    assert len(run(WaitressWrite, *CASES["one chunk of known length"])[0]) == 2  # waitress's: two


def undated(response: bytes) -> bytes:
    """The bytes without the Date header (the two runs may fall in different seconds)."""
    return re.sub(rb"\r\nDate: [^\r]*", b"", response)
