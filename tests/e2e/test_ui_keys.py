"""The console's Keys page in a real browser (headless chromium through Playwright) against the real
`switchyard serve` process: a key made, its secret copied once, used, blocked, regenerated and deleted.
Every page visited is screenshotted and checked with axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import running_gateway
from tests.e2e.ui_browser import assert_accessible, chromium_page, create_key, screenshot, sign_in

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-keys-master"
MASTER = {"authorization": f"Bearer {MASTER_KEY}"}
CONFIG = {
    "model_list": [
        {
            "model_name": "demo",
            "litellm_params": {"model": "mock/demo"},
            "model_info": {"input_cost_per_token": 0.01, "output_cost_per_token": 0.01},
        }
    ],
    "general_settings": {"master_key": MASTER_KEY},
}
# What the create form is filled with, by label (the alias aside).
KEY_FIELDS = {
    "Models": "demo",
    "Budget (USD)": "5",
    "Requests per minute": "30",
    "Metadata (JSON object)": '{"owner": "browser"}',
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(CONFIG, tmp_path_factory.mktemp("ui-keys")) as url:
        yield url


@pytest.fixture
def page(gateway: str):  # type: ignore[no-untyped-def]
    with chromium_page() as browser_page:
        yield browser_page


def _models_status(gateway: str, secret: str) -> int:
    return httpx.get(f"{gateway}/v1/models", headers={"authorization": f"Bearer {secret}"}).status_code


def _create_form(page):  # type: ignore[no-untyped-def]
    return page.get_by_role("form", name="Create a key")


def test_an_admin_makes_copies_uses_blocks_regenerates_and_deletes_a_key(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, gateway, MASTER_KEY)
    page.get_by_role("link", name="Keys").click()
    page.get_by_role("heading", name="Keys", level=1).wait_for()
    screenshot(page, "keys-empty")
    assert_accessible(page)

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway)
    secret = create_key(page, "browser-key", KEY_FIELDS)
    page.get_by_role("button", name="Copy key").click()
    page.get_by_role("status").get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    spent = httpx.post(
        f"{gateway}/v1/chat/completions",
        json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {secret}"},
    )
    assert spent.status_code == 200, spent.text
    screenshot(page, "keys-secret")
    assert_accessible(page)

    page.get_by_role("link", name="Back to the keys").click()
    row = page.get_by_role("row", name="browser-key")
    row.wait_for()
    cost = spent.headers["x-switchyard-response-cost"]
    row.get_by_text(f"${cost} of $5").wait_for()
    assert secret not in page.content()
    screenshot(page, "keys")
    assert_accessible(page)

    row.get_by_role("button", name="Block browser-key").click()
    page.get_by_role("button", name="Unblock browser-key").wait_for()
    assert _models_status(gateway, secret) == 401

    page.get_by_role("link", name="Edit browser-key").click()
    page.wait_for_url("**/edit")
    screenshot(page, "key-edit")
    assert_accessible(page)
    page.get_by_label("Requests per minute").fill("90")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("row", name="browser-key").get_by_text("90 rpm").wait_for()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Regenerate browser-key").click()
    page.get_by_role("heading", name="Key regenerated: browser-key").wait_for()
    fresh = page.get_by_label("Secret key").input_value()
    assert fresh != secret and _models_status(gateway, secret) == 401
    assert page.url == f"{gateway}/ui/keys"

    page.get_by_role("link", name="Back to the keys").click()
    page.go_back()
    page.get_by_role("heading", name="Keys", level=1).wait_for()
    assert fresh not in page.content() and fresh not in page.evaluate("JSON.stringify(localStorage)")
    page.get_by_role("link", name="Delete browser-key").click()
    page.get_by_role("heading", name="Delete key browser-key?").wait_for()
    screenshot(page, "key-delete")
    assert_accessible(page)
    page.get_by_role("button", name="Delete key browser-key").click()
    page.get_by_role("cell", name="No keys.").wait_for()
    assert _models_status(gateway, fresh) == 401


def test_a_field_error_is_shown_next_to_its_field(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, gateway, MASTER_KEY)
    page.goto(f"{gateway}/ui/keys")

    form = _create_form(page)
    form.get_by_label("Alias").fill("broken")
    form.get_by_label("Budget resets every").fill("fortnightly")
    form.get_by_role("button", name="Create key").click()

    error = page.locator("#f-budget_duration-error")
    error.wait_for()
    assert "fortnightly" in error.inner_text()
    screenshot(page, "keys-field-error")
    assert_accessible(page)


def test_an_internal_user_sees_only_their_own_keys(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    for alias, user in (("carol-key", "carol"), ("dave-key", "dave")):
        made = httpx.post(
            f"{gateway}/key/generate", json={"key_alias": alias, "user_id": user}, headers=MASTER
        )
        assert made.status_code == 200, made.text
        if user == "carol":
            carol = made.json()["key"]

    sign_in(page, gateway, carol)
    page.goto(f"{gateway}/ui/keys")

    page.get_by_role("row", name="carol-key").wait_for()
    assert page.get_by_role("row", name="dave-key").count() == 0
    screenshot(page, "keys-internal-user")
    assert_accessible(page)
