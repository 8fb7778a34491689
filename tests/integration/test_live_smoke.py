from tests.live import app_env, live_server


def test_server_starts_and_stops(tmp_path):
    import requests

    url = f"sqlite:///{tmp_path / 'live.db'}"
    from core.cli import upgrade_database

    upgrade_database(url)
    with live_server(app_env(url), workers=2) as base:
        assert requests.get(f"{base}/readyz", timeout=5).json() == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "disabled"},
        }
