"""The console in headless Chromium against a real server: the whole journey, keyboard and 375 px.

Sign up (by keyboard alone) -> log in -> create a key -> read its secret from the page -> call
the API with it -> see its usage change -> revoke it -> the API refuses it; write a draft,
publish it, the anonymous API lists it; the session cookie's flags; axe-core (from
node_modules, injected by the test, never served by the app) finds no serious or critical
violation on any page; each page fits 375 px and is saved as docs/console/<page>.png.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from core.migrations import upgrade_database
from tests.integration.test_docs_browser import chrome
from tests.support.http import PASSWORD
from tests.support.live import ROOT, app_env, flask_cli, live_server
from tests.support.services import require_service

pytestmark = pytest.mark.server
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "docs" / "console"
WIDTH, HEIGHT = 375, 900
PAGES = (
    "login",
    "signup",
    "keys",
    "key-created",
    "usage",
    "revoke",
    "posts-empty",
    "posts",
    "post-edit",
    "post-delete",
    "profile",
    "not-found",
    "admin-users",
    "admin-items",
)
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (r) => done(r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                         nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3)}))),
  (e) => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
"""


def wait_replaced(driver: Any, old: Any) -> None:
    """Until the page that held `old` is gone: Chromium reports a node of an unloaded page as
    stale, or as not belonging to the document, depending on timing."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def replaced(_driver: Any) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:
            return True
        return False

    WebDriverWait(driver, 15).until(replaced, "the page did not change")


class Browser:
    def __init__(self, base: str, profile: str) -> None:
        self.driver = chrome(profile)
        self.driver.set_window_size(WIDTH, HEIGHT)
        self.driver.set_script_timeout(30)
        self.base = base
        self.axe = AXE.read_text()
        self.pages: list[str] = []

    def go(self, path: str) -> None:
        self.driver.get(f"{self.base}{path}")

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def follow(self, element: Any) -> None:
        """Click something that loads a page, and wait until the new page replaced the old one
        (a click returns before the navigation it starts has finished)."""
        from selenium.webdriver.common.by import By

        old = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        wait_replaced(self.driver, old)

    def press(self, label: str) -> None:
        self.follow(self.button(label))

    def button(self, label: str) -> Any:
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(
            By.XPATH,
            f"//main//*[(self::button or self::input[@type='submit'])"
            f" and (normalize-space(.)='{label}' or @value='{label}')]",
        )
        assert found, f"no button {label!r} on {self.driver.current_url}"
        return found[0]

    def fill(self, label: str, value: str) -> None:
        """Type into the input whose visible <label> reads `label`."""
        from selenium.webdriver.common.by import By

        labels = [el for el in self.driver.find_elements(By.TAG_NAME, "label") if el.text.strip() == label]
        assert labels, f"no label {label!r} on {self.driver.current_url}"
        field = self.driver.find_element(By.ID, labels[0].get_attribute("for"))
        field.clear()
        field.send_keys(value)

    def check(self, name: str) -> None:
        """Save the page as docs/console/<name>.png after checking it fits and passes axe."""
        driver = self.driver
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: {overflow}px of horizontal scroll at {WIDTH}px"
        driver.execute_script(self.axe)
        violations = driver.execute_async_script(RUN_AXE)
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{name}: {serious}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(WIDTH, max(HEIGHT, min(height + 140, 4000)))
        driver.save_screenshot(str(SHOTS / f"{name}.png"))
        driver.set_window_size(WIDTH, HEIGHT)
        self.pages.append(name)


def api_titles(base: str) -> list[str]:
    return [p["title"] for p in requests.get(f"{base}/api/v1/posts", timeout=10).json()["items"]]


def test_console_journey_in_a_real_browser(tmp_path: Path) -> None:
    if not AXE.exists():
        require_service("axe-core", "node_modules/axe-core is missing: run npm ci")
    from selenium.webdriver.common.keys import Keys

    url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade_database(url)
    # Rate limiting on, as in production, so the usage page has a window to show.
    env = app_env(url, APP_RATE_LIMIT__ENABLED="true")
    flask_cli(
        [
            "create-user",
            "--username",
            "root",
            "--email",
            "root@example.com",
            "--password",
            PASSWORD,
            "--admin",
        ],
        env,
    )
    profile = tempfile.mkdtemp(prefix="inkwell-chromium-")
    try:
        with live_server(env, threads=4) as base:
            b = Browser(base, profile)
            driver = b.driver
            try:
                b.go("/console")
                assert driver.current_url == f"{base}/console/login"
                b.check("login")
                b.go("/console/signup")
                b.check("signup")

                # Sign up from the keyboard alone: Tab reaches each field in order, Enter submits.
                body = b.find("body")
                body.send_keys(Keys.TAB)
                for _ in range(15):
                    if driver.switch_to.active_element.get_attribute("id") == "username":
                        break
                    driver.switch_to.active_element.send_keys(Keys.TAB)
                order = []
                for value in ("carol", "carol@example.com", PASSWORD):
                    active = driver.switch_to.active_element
                    order.append(active.get_attribute("id"))
                    active.send_keys(value)
                    active.send_keys(Keys.TAB)
                assert order == ["username", "email", "password"]
                assert driver.switch_to.active_element.get_attribute("value") == "Sign up"
                old = driver.find_element("tag name", "html")
                driver.switch_to.active_element.send_keys(Keys.ENTER)
                wait_replaced(driver, old)
                assert driver.current_url == f"{base}/console/login"
                assert "Your account is ready" in b.find(".flashes").text

                b.fill("Username", "carol@example.com")  # the email works as the username
                b.fill("Password", PASSWORD)
                b.press("Log in")
                assert driver.current_url == f"{base}/console/keys"
                cookie = driver.get_cookie("inkwell_console")
                assert cookie is not None
                assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
                assert cookie["path"] == "/console" and cookie["secure"] is False  # plain HTTP here
                assert driver.execute_script("return document.cookie") == ""  # not readable by scripts

                b.fill("Key name", "journey")
                b.find('input[name="scopes"][value="read"]').click()
                b.find('input[name="scopes"][value="posts:write"]').click()
                b.press("Create key")
                secret = b.find("#secret").get_attribute("value")
                assert secret.startswith("iwk_")
                assert b.find("#copy").is_displayed()  # copy.js, the page's only script, ran under the CSP
                b.find("#copy").click()
                b.check("key-created")
                prefix = secret.split("_")[1]

                headers = {"X-API-Key": secret}
                for _ in range(3):
                    assert (
                        requests.get(f"{base}/api/v1/posts", headers=headers, timeout=10).status_code == 200
                    )
                b.go("/console/usage")
                row = b.find(f'tr[data-key="{prefix}"]')
                assert row.find_element("css selector", ".remaining").text == "597"
                assert "600 per 60 s" in row.text and "UTC" in row.find_element("css selector", ".reset").text
                b.check("usage")

                b.go("/console/keys")
                b.check("keys")
                b.follow(b.find('a[aria-label^="Revoke journey"]'))
                b.check("revoke")
                b.press("Revoke")
                assert "The key is revoked" in b.find(".flashes").text
                assert requests.get(f"{base}/api/v1/posts", headers=headers, timeout=10).status_code == 401

                b.go("/console/posts")
                b.check("posts-empty")
                b.follow(b.find("a.button"))
                b.fill("Title", "From the console")
                b.fill("Content", "Written in a browser.")
                b.press("Save")
                assert driver.current_url == f"{base}/console/posts"
                assert "From the console" not in api_titles(base)  # a draft
                b.check("posts")
                b.follow(b.find('button[aria-label="Publish From the console"]'))
                assert "Post published." in b.find(".flashes").text
                assert "From the console" in api_titles(base)
                b.follow(b.find('a[aria-label="Edit From the console"]'))
                b.check("post-edit")
                b.go("/console/posts")
                b.follow(b.find('a[aria-label="Delete From the console"]'))
                b.check("post-delete")

                b.go("/console/profile")
                b.fill("Bio", "I test consoles.")
                b.press("Save")
                assert "Profile saved." in b.find(".flashes").text
                b.check("profile")

                b.go("/console/no-such-page")
                b.check("not-found")

                b.go("/console/keys")
                before = driver.get_cookie("inkwell_console")
                b.follow(driver.find_element("xpath", "//nav//button[normalize-space(.)='Log out']"))
                assert driver.current_url == f"{base}/console/login"
                assert "You are logged out." in b.find(".flashes").text
                # The cookie from before the logout, put back, no longer opens the console.
                driver.delete_cookie("inkwell_console")
                driver.add_cookie({"name": "inkwell_console", "value": before["value"], "path": "/console"})
                b.go("/console/keys")
                assert driver.current_url.startswith(f"{base}/console/login")

                b.fill("Username", "root")
                b.fill("Password", PASSWORD)
                b.press("Log in")
                b.go("/console/admin/users")
                b.check("admin-users")
                b.go("/console/admin/items")
                b.fill("Name", "Fountain pen")
                b.fill("Price", "19.90")
                b.press("Save")
                assert "Item added" in b.find(".flashes").text
                b.check("admin-items")
            finally:
                driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    # Every page of the console was checked and photographed (README shows these files).
    assert sorted(b.pages) == sorted(PAGES)
    assert sorted(p.stem for p in SHOTS.glob("*.png")) == sorted(PAGES)
