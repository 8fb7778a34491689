"""Each adapter on another release of its library: the library's own code runs instead."""

from __future__ import annotations

import logging
import socket
from importlib import metadata

import pytest
from waitress.channel import HTTPChannel

import adapters
from adapters import flask_login, prometheus, waitress, werkzeug
from tests.unit.test_sent_response import CASES, ENVIRON


def test_another_release_is_named_with_what_it_gives_up(monkeypatch, caplog) -> None:
    monkeypatch.setattr(metadata, "version", lambda distribution: "99.0")
    with caplog.at_level(logging.WARNING, logger="inkwell.adapters"):
        assert adapters.written_for("waitress", "3.0.2", "its own loop") is False
    assert "waitress 99.0 is installed, not 3.0.2: its own loop" in caplog.text


def test_the_installed_releases_are_the_ones_written_for() -> None:
    assert (waitress.SUPPORTED, werkzeug.SUPPORTED, prometheus.SUPPORTED, flask_login.SUPPORTED) == (
        True,
        True,
        True,
        True,
    )


def test_werkzeug_elsewhere_every_response_takes_werkzeugs_path(monkeypatch) -> None:
    monkeypatch.setattr(werkzeug, "SUPPORTED", False)
    response = werkzeug.SentResponse(**CASES["200 with a body"])
    sent = response.get_wsgi_headers(ENVIRON)
    assert sent is not response.headers  # werkzeug's copy, not the headers as they are


def test_waitress_elsewhere_its_own_channel_and_loop(monkeypatch, app) -> None:
    monkeypatch.setattr(waitress, "SUPPORTED", False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        server = waitress.Server(app, sock, {"threads": 1}, per_address_cap=2)
        try:
            assert server.waitress.channel_class is HTTPChannel
            ran: list[bool] = []
            monkeypatch.setattr(server.waitress, "run", lambda: ran.append(True))
            server.serve(lambda: True, 0.01)  # waitress's run(), not the worker's own passes
            assert ran == [True]
            closed: list[bool] = []
            assert server.drain(0.0, 1.0, 0.01, lambda: closed.append(True)) == 0
            assert closed == [True]
        finally:
            server.waitress.task_dispatcher.shutdown()


def test_waitress_here_the_worker_loop_and_the_per_address_cap(app) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        server = waitress.Server(app, sock, {"threads": 1}, per_address_cap=2)
        try:
            assert server.waitress.channel_class is waitress.Channel
            assert server.waitress.inkwell_per_address_cap == 2
        finally:
            server.waitress.task_dispatcher.shutdown()


def test_flask_login_elsewhere_the_remember_cookie_hook_stays_app_wide(monkeypatch, make_app) -> None:
    from console import session

    monkeypatch.setattr(flask_login, "SUPPORTED", False)
    elsewhere = make_app()
    hook = session.login_manager._update_remember_cookie
    assert hook in elsewhere.after_request_funcs[None]
    monkeypatch.setattr(flask_login, "SUPPORTED", True)
    here = make_app()
    assert hook not in here.after_request_funcs[None]
    assert hook in here.after_request_funcs["console"]


def test_prometheus_elsewhere_the_value_class_chosen_at_import(monkeypatch) -> None:
    from prometheus_client import values

    chosen = values.ValueClass
    monkeypatch.setattr(prometheus, "SUPPORTED", False)
    monkeypatch.setattr(values, "get_value_class", lambda: pytest.fail("chose again"))
    prometheus.use_multiprocess_values()
    assert values.ValueClass is chosen
