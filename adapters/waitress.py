"""waitress 3.0.2, run by Inkwell's worker loop, with a cap per client address and two changes to
its WSGITask. On another release: waitress's own loop, channel and task (no drain on SIGTERM, no
per-address cap, waitress's own keep-alive and sends), with a warning at start.

The loop. A worker polls waitress's socket map itself (one pass at a time, to look at its signal
flags between passes), and drains on SIGTERM: it accepts what the kernel already queued, closes
its listening socket, answers with `Connection: close` from then on, closes idle keep-alive
connections, and exits once nothing is in flight (entrypoints/server.py decides when).

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

import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import WSGITask

from adapters import written_for

SUPPORTED = written_for(
    "waitress",
    "3.0.2",
    "waitress's own loop, channel and task: no drain on SIGTERM, no per-address connection cap",
)

# Above this, copying the body behind the header costs more than the send it saves.
ONE_SEND_MAX = 256 * 1024


class Task(WSGITask):
    wrote_header: bool  # WSGITask's own attributes, which waitress does not type

    def build_response_header(self) -> bytes:
        # A draining worker ends each connection after its response: the client's next request
        # opens a new connection, which the kernel gives to a worker that is still accepting.
        # WSGITask's own close, not this class's, which keeps it open after a 204 or 304.
        if self.channel.server.inkwell_draining:
            WSGITask.set_close_on_finish(self)
        header: bytes = super().build_response_header()
        return header

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


def _busy(channel: HTTPChannel) -> bool:
    """A request queued or running, a response not yet flushed, or a request half received."""
    return bool(channel.requests or channel.total_outbufs_len or channel.request is not None)


class Server:
    """One worker's waitress server on its own listening socket."""

    def __init__(self, app: Any, sock: socket.socket, options: dict[str, Any], per_address_cap: int) -> None:
        self.waitress: Any = create_server(app, sockets=[sock], **options)
        self.waitress.inkwell_draining = False
        if SUPPORTED:
            self.waitress.channel_class = Channel
            self.waitress.inkwell_held = Counter()  # open connections per client address
            self.waitress.inkwell_per_address_cap = per_address_cap

    def serve(self, stopping: Callable[[], bool], pass_seconds: float) -> None:
        """Serve until `stopping()`, looked at between passes of the loop. On another release
        waitress's own loop serves until SystemExit (the worker's SIGTERM handler raises it)."""
        if not SUPPORTED:
            self.waitress.run()
            return
        while not stopping():
            self._pass(pass_seconds)

    def drain(
        self, deadline: float, idle_close_seconds: float, pass_seconds: float, closing: Callable[[], None]
    ) -> int:
        """Serve what is queued and in flight, accepting nothing new; `closing()` is called as the
        responses start to say `Connection: close`. The connections still busy at `deadline` (a
        monotonic time) are counted and left to close with the process."""
        if not SUPPORTED:
            closing()
            return 0
        server = self.waitress
        # Whatever the kernel already queued on this socket is accepted and served; closing the
        # socket with connections still queued would reset them. Only then do responses say
        # `Connection: close`: a client reconnecting sooner could land on this socket again.
        while self._accept_pending():
            pass
        wasyncore.dispatcher.close(server)  # the listening socket only; the trigger stays
        server.inkwell_draining = True
        closing()
        busy = 0
        while True:
            channels = [c for c in list(server._map.values()) if isinstance(c, HTTPChannel)]
            if not channels:
                break
            if time.monotonic() >= deadline:
                busy = sum(_busy(c) for c in channels)
                break
            now = time.time()
            for channel in channels:
                if not _busy(channel) and now - channel.last_activity >= idle_close_seconds:
                    channel.will_close = True  # closed by the loop on its next pass
            self._pass(pass_seconds)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        return busy

    def _pass(self, seconds: float) -> None:
        server = self.waitress
        wasyncore.loop(timeout=seconds, map=server._map, use_poll=server.adj.asyncore_use_poll, count=1)

    def _accept_pending(self) -> bool:
        """Accept one queued connection; False once the queue is empty."""
        server = self.waitress
        accepted = server.accept()
        if accepted is None:
            return False
        conn, addr = accepted
        server.set_socket_options(conn)
        server.channel_class(server, conn, server.fix_addr(addr), server.adj, map=server._map)
        return True
