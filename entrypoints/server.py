"""`serve`: a master process and N waitress workers, each accepting on its own SO_REUSEPORT socket.

SO_REUSEPORT lets the kernel spread connections evenly across workers (a single socket shared by
fork leaves most connections with whichever worker wakes first), and it lets a new worker listen
next to an old one, which is what makes a reload lose nothing.

The master only manages processes; the workers serve. Signals to the master:

    SIGTERM, SIGINT  every worker drains (below), then the master exits 0
    SIGHUP           the workers are replaced one at a time: a new worker is accepting on its own
                     socket before the old one starts draining

Draining a worker: /readyz answers 503; the connections the kernel already queued on its socket are
accepted, then the socket is closed so new connections go to the other sockets; every response from
then on says `Connection: close`; idle keep-alive connections are closed; the worker exits once no
request is in flight, or after server.graceful_timeout_seconds.

A worker that dies on its own is restarted after an exponential backoff (0.5 s doubling to 30 s;
a worker that served for a minute starts the count again).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from adapters import waitress
from core import metrics
from core.settings import Settings
from web.container import Container

Factory = Callable[[Settings], Flask]

log = logging.getLogger("inkwell.server")

MASTER_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
POLL_SECONDS = 0.1  # how often the loops look at their signal flags
IDLE_CLOSE_SECONDS = 1.0  # a draining worker closes a keep-alive connection idle this long
READY_TIMEOUT_SECONDS = 60.0  # a new worker must be accepting within this
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
STABLE_SECONDS = 60.0  # a worker that lived this long before dying resets its backoff


def waitress_options(settings: Settings) -> dict[str, Any]:
    server = settings.server
    options: dict[str, Any] = {
        "threads": server.threads,
        "connection_limit": server.connection_limit,
        # Flask answers 413 as problem+json up to this much; waitress stops anything bigger
        # (plain text) before buffering it, so a huge body cannot fill the disk or memory.
        "max_request_body_size": server.max_body_bytes * 4,
        # Idle connections (no request in progress, a half-sent one included) are closed; the
        # sweep runs often enough that one lives at most ~1.5x the timeout.
        "channel_timeout": server.idle_timeout_seconds,
        "cleanup_interval": max(1, server.idle_timeout_seconds // 2),
        # poll(), not select(): select() fails on a descriptor past 1023, which stopped the worker.
        "asyncore_use_poll": True,
        "ident": "inkwell",
        # Never trust X-Forwarded-* unless configured: strip them so nothing downstream sees them.
        "clear_untrusted_proxy_headers": True,
    }
    if server.trusted_proxy_count > 0:
        options.update(
            trusted_proxy="*",
            trusted_proxy_count=server.trusted_proxy_count,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
        )
    return options


DESCRIPTOR_RESERVE = 256  # a worker's own descriptors: database and Redis pools, metrics files, logs


def ensure_descriptors(settings: Settings) -> None:
    """Raise the soft RLIMIT_NOFILE to what connection_limit needs, or refuse to start.

    A worker that runs out of descriptors fails accept() in a loop; refusing at start says why.
    """
    needed = settings.server.connection_limit + DESCRIPTOR_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(
            f"server.connection_limit = {settings.server.connection_limit} needs {needed} file descriptors "
            f"and this process may open {hard} (ulimit -Hn): lower the limit or raise ulimit -n"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


# -- a worker ------------------------------------------------------------------------------------


class _Worker:
    def __init__(self, settings: Settings, factory: Factory, index: int) -> None:
        self.settings = settings
        self.index = index
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        # The master decides: a terminal's ^C or hangup reaches the whole process group.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, MASTER_SIGNALS)  # blocked by the master around fork

        if settings.server.cpu_affinity and hasattr(os, "sched_setaffinity"):
            cpus = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpus[index % len(cpus)]})
        # Under load waitress logs "Task queue depth" on most requests; that line is noise.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self.app = factory(settings)
        self.container: Container = self.app.extensions["inkwell"]
        sock = _listen(settings.server.host, settings.server.port)
        options = waitress_options(settings)
        self.server = waitress.Server(self.app, sock, options, settings.server.max_connections_per_address)
        # What is built so far lives as long as the worker: gc.freeze() leaves it out of every
        # collection, which then walks only what requests allocate.
        # Collect first, so no garbage from start-up is frozen with it.
        gc.collect()
        gc.freeze()

    def _stop(self, _signum: int, _frame: Any) -> None:
        self.stopping = True
        if not waitress.SUPPORTED:
            raise SystemExit(0)  # ends waitress's own loop (Server.serve)

    def run(self, ready_fd: int) -> None:
        log.warning(
            "worker %d (pid %d) serving on http://%s:%d",
            self.index,
            os.getpid(),
            self.settings.server.host,
            self.settings.server.port,
        )
        os.write(ready_fd, b"1")
        os.close(ready_fd)
        self.server.serve(lambda: self.stopping, POLL_SECONDS)
        self.drain()

    def drain(self) -> None:
        started = time.monotonic()
        timeout = self.settings.server.graceful_timeout_seconds

        def closing() -> None:
            self.container.draining = True  # /readyz answers 503 from now on

        busy = self.server.drain(started + timeout, IDLE_CLOSE_SECONDS, POLL_SECONDS, closing)
        if busy:
            log.error(
                "worker %d: %d connection(s) still busy after %d s; closing them", self.index, busy, timeout
            )
        self.container.db.dispose()
        log.warning(
            "worker %d (pid %d) drained in %.1f s", self.index, os.getpid(), time.monotonic() - started
        )


# -- the master ----------------------------------------------------------------------------------


@dataclass
class _Child:
    index: int
    ready_fd: int
    started: float
    retiring: bool = False


class _Master:
    def __init__(self, settings: Settings, factory: Factory) -> None:
        self.settings = settings
        self.factory = factory
        self.children: dict[int, _Child] = {}
        self.pending: list[int] = []  # signals received, handled by the loop
        self.failures = [0] * settings.server.workers
        self.restart_at: dict[int, float] = {}

    def _signal(self, signum: int, _frame: Any) -> None:
        self.pending.append(signum)

    def spawn(self, index: int) -> int:
        read_fd, write_fd = os.pipe()
        # Blocked across fork so a signal meant for the new worker waits for its own handlers.
        signal.pthread_sigmask(signal.SIG_BLOCK, MASTER_SIGNALS)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(read_fd)
                _Worker(self.settings, self.factory, index).run(write_fd)
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, MASTER_SIGNALS)
        os.close(write_fd)
        self.children[pid] = _Child(index, read_fd, time.monotonic())
        return pid

    def wait_ready(self, pid: int) -> bool:
        """Whether the worker is accepting (it writes to its pipe) rather than dead or stuck."""
        child = self.children[pid]
        ready, _, _ = select.select([child.ready_fd], [], [], READY_TIMEOUT_SECONDS)
        answer = os.read(child.ready_fd, 1) if ready else b""
        os.close(child.ready_fd)
        child.ready_fd = -1
        return answer == b"1"

    def retire(self, pid: int) -> None:
        child = self.children.get(pid)
        if child is not None and not child.retiring:
            child.retiring = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def serving(self, index: int) -> list[int]:
        return [pid for pid, c in self.children.items() if c.index == index and not c.retiring]

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            metrics.worker_exited(pid)
            if child is None:
                continue
            if child.ready_fd >= 0:
                os.close(child.ready_fd)
            if child.retiring:
                continue
            # It died on its own: restart it, later each time it keeps dying.
            lived = time.monotonic() - child.started
            self.failures[child.index] = 1 if lived >= STABLE_SECONDS else self.failures[child.index] + 1
            delay = min(BACKOFF_FIRST_SECONDS * 2 ** (self.failures[child.index] - 1), BACKOFF_MAX_SECONDS)
            log.error(
                "worker %d (pid %d) exited with status %s; restarting in %.1f s",
                child.index,
                pid,
                os.waitstatus_to_exitcode(status),
                delay,
            )
            self.restart_at[child.index] = time.monotonic() + delay

    def reload(self) -> None:
        log.warning("reloading %d worker(s) one at a time", self.settings.server.workers)
        for index in range(self.settings.server.workers):
            old = self.serving(index)
            self.restart_at.pop(index, None)
            pid = self.spawn(index)
            if not self.wait_ready(pid):
                log.error("reload: the new worker %d did not start; keeping the old ones", index)
                self.retire(pid)
                if not old:  # it was down already, waiting for its restart: keep that coming
                    self.restart_at[index] = time.monotonic() + BACKOFF_FIRST_SECONDS
                return
            for previous in old:
                self.retire(previous)

    def shutdown(self) -> int:
        log.warning("stopping: draining %d worker(s)", len(self.children))
        for pid in list(self.children):
            self.retire(pid)
        deadline = time.monotonic() + self.settings.server.graceful_timeout_seconds + 5
        while self.children and time.monotonic() < deadline:
            self.reap()
            time.sleep(POLL_SECONDS)
        for pid in list(self.children):  # past its own deadline: a stuck worker
            log.error("worker pid %d did not drain in time; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while self.children:
                pid, _ = os.waitpid(-1, 0)
                self.children.pop(pid, None)
        return 0

    def run(self) -> int:
        for handled in MASTER_SIGNALS:
            signal.signal(handled, self._signal)
        started = [self.spawn(index) for index in range(self.settings.server.workers)]
        if not all([self.wait_ready(pid) for pid in started]):
            log.error("a worker failed to start; stopping")
            self.shutdown()
            return 1
        while True:
            while self.pending:
                signum = self.pending.pop(0)
                if signum == signal.SIGHUP:
                    self.reload()
                else:
                    return self.shutdown()
            self.reap()
            now = time.monotonic()
            for index, when in list(self.restart_at.items()):
                if when <= now:
                    del self.restart_at[index]
                    self.spawn(index)
            time.sleep(POLL_SECONDS)


def run(settings: Settings, factory: Factory) -> None:
    # Before forking: every worker writes its metrics to files here; /metrics sums them all.
    metrics.prepare_multiprocess_dir()
    ensure_descriptors(settings)
    sys.exit(_Master(settings, factory).run())
