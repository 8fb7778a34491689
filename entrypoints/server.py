"""Waitress in one process, or N forked workers each with its own SO_REUSEPORT socket.

SO_REUSEPORT lets the kernel spread connections evenly across workers; a single socket shared
by fork leaves most connections with whichever worker wakes first.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

from core import metrics
from core.settings import Settings
from entrypoints import keepalive

Factory = Callable[[Settings], Flask]

log = logging.getLogger("inkwell.server")


def waitress_options(settings: Settings) -> dict[str, Any]:
    server = settings.server
    options: dict[str, Any] = {
        "threads": server.threads,
        "connection_limit": server.connection_limit,
        # Flask answers 413 as problem+json up to this much; waitress stops anything bigger
        # (plain text) before buffering it, so a huge body cannot fill the disk or memory.
        "max_request_body_size": server.max_body_bytes * 4,
        "channel_timeout": 60,
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


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _serve_worker(settings: Settings, factory: Factory, index: int, reuse_port: bool) -> None:
    from waitress.server import create_server

    if settings.server.cpu_affinity and hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    # Under load waitress logs "Task queue depth" on most requests; that line is noise.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = factory(settings)
    sock = _listen(settings.server.host, settings.server.port, reuse_port)
    server = create_server(app, sockets=[sock], **waitress_options(settings))
    keepalive.install(server)
    log.warning(
        "worker %d (pid %d) serving on http://%s:%d",
        index,
        os.getpid(),
        settings.server.host,
        settings.server.port,
    )
    server.run()


def run(settings: Settings, factory: Factory) -> None:
    workers = settings.server.workers
    if workers <= 1:
        _serve_worker(settings, factory, 0, reuse_port=False)
        return

    # Before forking: every worker writes its metrics to files here; /metrics sums them all.
    metrics.prepare_multiprocess_dir()
    children: dict[int, int] = {}

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _serve_worker(settings, factory, index, reuse_port=True)
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        children[pid] = index

    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(workers):
        spawn(index)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, None)
        metrics.worker_exited(pid)
        if index is not None and not stopping:
            log.error("worker %d (pid %d) exited with %s; restarting", index, pid, status)
            time.sleep(0.5)
            spawn(index)
    sys.exit(0)
