"""The real server's transport edges: readiness, and bodies too large for the contract."""

from __future__ import annotations

import subprocess

import requests

from tests.support.live import app_env, flask_cli, live_server


def test_server_starts_with_two_workers_and_is_ready(sqlite_url):
    with live_server(app_env(sqlite_url), workers=2) as base:
        assert requests.get(f"{base}/readyz", timeout=5).json() == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "disabled"},
        }


def test_oversized_body_is_a_413_problem_through_waitress(sqlite_url):
    with live_server(app_env(sqlite_url)) as base:
        body = b'{"username": "' + b"x" * 2_000_000 + b'"}'
        response = requests.post(
            f"{base}/api/v1/auth/register",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


def test_create_user_never_prints_the_password(sqlite_url):

    env = app_env(sqlite_url)
    try:
        flask_cli(
            ["create-user", "--username", "cli", "--email", "cli@example.com", "--password", "Zq9"], env
        )
        raise AssertionError("a 3-character password must be refused")
    except subprocess.CalledProcessError as exc:
        assert "password" in exc.stderr
        assert "Zq9" not in exc.stderr + exc.stdout
