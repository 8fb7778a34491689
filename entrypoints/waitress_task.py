"""How a connection is held and a response goes out under waitress 3.0.2: a cap on connections per
client address, and two changes to its WSGITask.

Connections per address. waitress's connection_limit is one budget for every client: one client
holding idle connections could take it all. A connection past `server.max_connections_per_address`
for its address is closed as it is accepted; the other addresses keep their share.

Keep-alive after 204 and 304. waitress closes the connection after every response without a
Content-Length header, and it never sends one with a 204 or a 304 (RFC 9110 forbids it on 204):
so every revalidation (304) and every DELETE (204) cost the client a new TCP connection. Those
responses have no body by definition (RFC 9112 6.3), so the connection can stay open. Everything
else that closes a connection (the client's `Connection: close`, HTTP/1.0, errors, short bodies)
still does.

The header and the body in one send. waitress writes the status line and headers, then the body,
each with its own send(): two TCP segments, and two wake-ups of the client, for a response that
is one chunk of known length (every JSON response here). Such a response, up to 256 KiB, goes out
in one send.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from waitress.channel import HTTPChannel
from waitress.task import WSGITask

# Above this, copying the body behind the header costs more than the send it saves.
ONE_SEND_MAX = 256 * 1024


class Task(WSGITask):
    wrote_header: bool  # WSGITask's own attributes, which waitress does not type

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

    def write(self, data: bytes) -> None:
        if self.wrote_header or not data or not self.complete or len(data) > ONE_SEND_MAX:
            super().write(data)
            return
        header = self.build_response_header()  # decides has_body and chunking
        if self.has_body and not self.chunked_response and self.content_length == len(data):
            self.channel.write_soon(header + data)
            self.wrote_header = True
            self.content_bytes_written += len(data)
            return
        self.channel.write_soon(header)  # anything else: waitress's own path from here
        self.wrote_header = True
        super().write(data)


class Channel(HTTPChannel):
    task_class = Task

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        # Only the server's loop thread accepts and closes channels: the counter needs no lock.
        held: Counter[str] = server.inkwell_held
        self._held_by = str(addr[0]) if isinstance(addr, tuple) else str(addr)
        held[self._held_by] += 1
        cap = server.inkwell_per_address_cap
        if cap and held[self._held_by] > cap:
            self.close()

    def del_channel(self, map: Any = None) -> None:
        host = self.__dict__.pop("_held_by", None)
        if host is not None:
            held: Counter[str] = self.server.inkwell_held
            held[host] -= 1
            if held[host] <= 0:
                del held[host]
        super().del_channel(map)
