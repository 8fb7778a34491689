"""/docs in headless Chromium: the operations render and no request leaves 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.migrations import upgrade_database
from tests.support.live import ROOT, app_env, live_server
from tests.support.services import require_service

pytestmark = pytest.mark.server
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--window-size=1280,1800",
]


def chrome(profile: str):  # type: ignore[no-untyped-def]
    """Headless Chromium from the Debian packages, for every browser test."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        require_service("Chromium", "install the chromium and chromium-driver packages (make test does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # Performance logs carry every network request the page makes (Chrome DevTools events).
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    # An explicit driver path: Selenium Manager never runs, so it never downloads anything.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def test_docs_page_lists_operations_and_stays_on_this_machine(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url = f"sqlite:///{tmp_path / 'docs.db'}"
    upgrade_database(url)
    profile = tempfile.mkdtemp(prefix="inkwell-chromium-")
    try:
        with live_server(app_env(url), threads=4) as base:
            driver = chrome(profile)
            try:
                driver.get(f"{base}/docs")
                WebDriverWait(driver, 30).until(
                    ec.presence_of_all_elements_located((By.CSS_SELECTOR, ".opblock-summary-path"))
                )
                paths = {
                    el.text.replace("\u200b", "")
                    for el in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
                }
                for expected in ("/api/v1/posts", "/api/v1/posts/{post_id}", "/api/v1/items", "/healthz"):
                    assert expected in paths, sorted(paths)
                assert "Inkwell API" in driver.find_element(By.CSS_SELECTOR, ".info .title").text
                (ROOT / "docs").mkdir(exist_ok=True)
                driver.save_screenshot(str(ROOT / "docs" / "swagger.png"))
                requested = [
                    json.loads(entry["message"])["message"]["params"]["request"]["url"]
                    for entry in driver.get_log("performance")
                    if '"Network.requestWillBeSent"' in entry["message"]
                ]
            finally:
                driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    hosts = {urlsplit(u).hostname for u in requested if urlsplit(u).scheme in ("http", "https", "ws", "wss")}
    assert f"{base}/openapi.json" in requested
    assert hosts == {"127.0.0.1"}, sorted(set(requested))
