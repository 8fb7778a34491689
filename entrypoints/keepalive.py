"""Keep-alive after 204 and 304 under waitress.

waitress 3.0.2 closes the connection after every response without a Content-Length header,
and it never sends one with a 204 or a 304 (RFC 9110 forbids it on 204): so every revalidation
(304) and every DELETE (204) cost the client a new TCP connection. Those responses have no body
by definition (RFC 9112 6.3), so the connection can stay open. Everything else that closes a
connection (the client's `Connection: close`, HTTP/1.0, errors, short bodies) still does.
"""

from __future__ import annotations

from waitress.channel import HTTPChannel
from waitress.task import WSGITask


class KeepAliveTask(WSGITask):
    def set_close_on_finish(self) -> None:
        if (
            not self.has_body
            and self.version == "1.1"
            and self.request.headers.get("CONNECTION", "").lower() != "close"
            and self.request.error is None
            and (self.content_length in (None, 0) or self.content_bytes_written == self.content_length)
        ):
            return
        super().set_close_on_finish()


class KeepAliveChannel(HTTPChannel):
    task_class = KeepAliveTask
