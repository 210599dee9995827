"""What the admin console's browser tests share: a gateway to open, Debian's chromium driven by
Playwright, signing in, a screenshot of each page and the accessibility check (axe-core, vendored).

A page's test module builds its fixtures from these helpers (see test_ui.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("SWITCHYARD_SCREENSHOTS") or Path(__file__).parent / "screenshots")
BLOCKING_IMPACTS = ("serious", "critical")
PHONE = {"width": 375, "height": 812}


@contextmanager
def chromium_page() -> Iterator[Page]:
    """A fresh page in headless chromium; the test is skipped, saying why, when chromium or Playwright
    is not installed (.ci/run installs chromium)."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            yield page
        finally:
            browser.close()


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/ui/login")
    page.get_by_label("Master key or virtual key").fill(key)
    page.get_by_role("button", name="Sign in", exact=True).click()  # not "Sign in with email"
    page.wait_for_url(f"{url}/ui/models")


def sign_in_with_password(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/ui/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in with email").click()
    page.wait_for_url(f"{url}/ui/models")


def sign_out(page: Page, url: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{url}/ui/login")


def create_key(page: Page, alias: str, fields: dict[str, str]) -> str:
    """Fills the Keys page's create form (`fields` by label) and sends it; answers the secret the
    page shows once."""
    form = page.get_by_role("form", name="Create a key")
    form.get_by_label("Alias").fill(alias)
    for label, value in fields.items():
        form.get_by_label(label).fill(value)
    form.get_by_role("button", name="Create key").click()
    page.get_by_role("heading", name=f"Key created: {alias}").wait_for()
    return page.get_by_label("Secret key").input_value()


def screenshot(page: Page, name: str) -> Path:
    """The page as it looks now (full page, and at 375 px wide, where nothing may stick out sideways and
    axe-core must still pass: a table scrolls inside its own focusable region), kept for CI under
    SCREENSHOTS."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], f"{name} is too wide"
    assert_accessible(page)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-375px.png"), full_page=True)
    if size is not None:
        page.set_viewport_size(size)
    return path


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page as it is now (WCAG 2 A and AA rules)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
    )
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]
    assert blocking == [], "\n".join(blocking)


def checked(page: Page, name: str) -> None:
    """The page screenshotted (full and 375 px) and checked with axe-core, as every visited page is."""
    screenshot(page, name)
    assert_accessible(page)
