"""The Spend and Logs pages in a real browser: a call made with the `openai` client through the real
`switchyard serve` process shows up on the Logs page, in detail with its stored prompt, and its cost on
the Spend page's charts. Every page visited is screenshotted and checked with axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.e2e.conftest import ledger_record, running_gateway
from tests.e2e.ui_browser import assert_accessible, chromium_page, screenshot, sign_in

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-spend-master"
MASTER = {"authorization": f"Bearer {MASTER_KEY}"}
CONFIG = {
    "model_list": [
        {
            "model_name": "demo",
            "litellm_params": {"model": "mock/demo"},
            "model_info": {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002},
        }
    ],
    "general_settings": {"master_key": MASTER_KEY, "store_prompts_in_spend_logs": True},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(CONFIG, tmp_path_factory.mktemp("ui-spend")) as url:
        yield url


@pytest.fixture(scope="module")
def call_id(gateway: str) -> str:
    """One chat call with a virtual key, once it is in the ledger (written off the request path)."""
    key = httpx.post(f"{gateway}/key/generate", json={"key_alias": "browser-key"}, headers=MASTER).json()
    client = openai.OpenAI(api_key=key["key"], base_url=f"{gateway}/v1")
    reply = client.chat.completions.with_raw_response.create(
        model="demo", messages=[{"role": "user", "content": "hello from the browser test"}]
    )
    return ledger_record(gateway, reply.headers["x-switchyard-call-id"], MASTER_KEY)["request_id"]


@pytest.fixture
def page(gateway: str):  # type: ignore[no-untyped-def]
    with chromium_page() as browser_page:
        yield browser_page


def test_the_call_is_on_the_logs_page_and_in_detail(gateway: str, call_id: str, page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, gateway, MASTER_KEY)
    page.get_by_role("link", name="Logs").click()
    page.wait_for_url(f"{gateway}/ui/logs")

    assert page.get_by_role("row", name=call_id).is_visible()
    screenshot(page, "logs")
    assert_accessible(page)

    page.get_by_label("Status").select_option("failure")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=failure**")
    assert page.get_by_role("link", name=call_id).count() == 0
    page.get_by_label("Status").select_option("")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=&**")

    page.get_by_role("link", name=call_id).click()
    page.wait_for_url(f"{gateway}/ui/logs/{call_id}")
    assert page.get_by_role("heading", name="Timings").is_visible()
    assert "hello from the browser test" in page.locator("pre").first.inner_text()
    assert "browser-key" in page.content()
    screenshot(page, "log-detail")
    assert_accessible(page)


def test_the_spend_page_charts_the_call_cost(gateway: str, call_id: str, page) -> None:  # type: ignore[no-untyped-def]
    (logged,) = httpx.get(f"{gateway}/spend/logs", params={"request_id": call_id}, headers=MASTER).json()
    sign_in(page, gateway, MASTER_KEY)
    page.get_by_role("link", name="Spend").click()
    page.wait_for_url(f"{gateway}/ui/spend")

    assert page.get_by_role("heading", name="Spend by day").is_visible()
    by_model = page.get_by_role("table", name="Spend by model: spend, requests and tokens")
    assert (
        by_model.get_by_role("row", name="demo").inner_text().split("\t")[1].strip()
        == f"${logged['spend']:g}"
    )
    by_key = page.get_by_role("table", name="Spend by key: spend, requests and tokens")
    assert by_key.get_by_role("row", name="browser-key").is_visible()
    screenshot(page, "spend")
    assert_accessible(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download these figures as CSV").click()
    assert "demo" in download.value.path().read_text()
