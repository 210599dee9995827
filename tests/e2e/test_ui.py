"""The admin console in a real browser: headless chromium, driven by Playwright, against the real
`switchyard serve` process. Every page visited is screenshotted and checked with axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import running_gateway
from tests.e2e.ui_browser import assert_accessible, chromium_page, screenshot, sign_in

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-master"
CONFIG = {
    "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
    "general_settings": {"master_key": MASTER_KEY},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(CONFIG, tmp_path_factory.mktemp("ui")) as url:
        yield url


@pytest.fixture
def page(gateway: str):  # type: ignore[no-untyped-def]
    with chromium_page() as browser_page:
        yield browser_page


def test_the_login_page_is_accessible(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{gateway}/ui/models")

    assert page.url == f"{gateway}/ui/login"
    screenshot(page, "login")
    assert_accessible(page)


def test_an_admin_signs_in_adds_a_model_and_signs_out(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, gateway, MASTER_KEY)
    assert page.get_by_role("heading", name="Models", level=1).is_visible()
    assert page.get_by_role("row", name="demo").is_visible()
    screenshot(page, "models")
    assert_accessible(page)

    page.get_by_label("Model name (what clients send as model)").fill("browser-made")
    page.get_by_label("Provider and model").fill("openai/gpt-4o-mini")
    page.get_by_label("API base URL").fill("http://127.0.0.1:9/v1")
    page.get_by_label("API key").fill("sk-browser-secret")
    page.get_by_role("button", name="Add model").click()

    page.get_by_role("row", name="browser-made").wait_for()
    assert "sk-browser-secret" not in page.content()
    stored = httpx.get(f"{gateway}/model/info", headers={"authorization": f"Bearer {MASTER_KEY}"}).json()
    assert "browser-made" in [m["model_name"] for m in stored["data"]]
    screenshot(page, "models-added")

    page.get_by_role("link", name="Edit browser-made").click()
    page.wait_for_url("**/edit")
    screenshot(page, "model-edit")
    assert_accessible(page)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{gateway}/ui/login")
    page.goto(f"{gateway}/ui/models")
    assert page.url == f"{gateway}/ui/login"


def test_a_field_error_is_shown_next_to_its_field(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, gateway, MASTER_KEY)

    page.get_by_label("Model name (what clients send as model)").fill("broken")
    page.get_by_label("Provider and model").fill("antropic/claude")
    page.get_by_role("button", name="Add model").click()

    error = page.locator("#f-litellm_params-model-error")
    error.wait_for()
    assert "antropic" in error.inner_text()
    screenshot(page, "models-field-error")
    assert_accessible(page)


def test_a_virtual_key_sees_the_models_read_only(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    made = httpx.post(f"{gateway}/key/generate", json={}, headers={"authorization": f"Bearer {MASTER_KEY}"})

    sign_in(page, gateway, made.json()["key"])

    assert page.get_by_role("row", name="demo").is_visible()
    assert page.get_by_role("heading", name="Add a model").count() == 0
    assert page.get_by_role("link", name="Users").count() == 0
    screenshot(page, "models-read-only")
    assert_accessible(page)
