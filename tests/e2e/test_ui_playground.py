"""The console's Playground in a real browser against the real `switchyard serve` process: replies
streamed into the transcript, tool calls shown, the page without its script, and refusals in plain
words. Every state is screenshotted and checked with axe-core."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import running_gateway
from tests.e2e.ui_browser import assert_accessible, chromium_page, screenshot, sign_in
from tests.unit.test_ui_playground import WEATHER_TOOL

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-playground-master"
CONFIG = {
    "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
    "general_settings": {"master_key": MASTER_KEY},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(CONFIG, tmp_path_factory.mktemp("ui-playground")) as url:
        yield url


@pytest.fixture
def page(gateway: str):  # type: ignore[no-untyped-def]
    with chromium_page() as browser_page:
        yield browser_page


def _open_playground(page, gateway: str, key: str = MASTER_KEY) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, gateway, key)
    page.get_by_role("link", name="Playground").click()  # a boosted visit: the script loads all the same
    page.get_by_role("heading", name="Playground", level=1).wait_for()


def _transcript(page):  # type: ignore[no-untyped-def]
    return page.locator("#transcript")


def test_a_reply_streams_into_the_transcript_sent_with_ctrl_enter(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    _open_playground(page, gateway)
    screenshot(page, "playground")
    assert_accessible(page)

    page.get_by_label("System prompt").fill("Be brief.")
    page.get_by_label("Message", exact=True).fill("hello from the browser")
    page.get_by_label("Message", exact=True).press("Control+Enter")

    reply = _transcript(page).locator(".turn.assistant .text")
    reply.filter(has_text='You said: "hello from the browser"').wait_for()
    page.wait_for_function("document.querySelector('#transcript').getAttribute('aria-busy') === 'false'")
    assert page.get_by_label("Message", exact=True).input_value() == ""
    kept = json.loads(page.locator("input[name=conversation]").input_value())
    assert [turn["role"] for turn in kept] == ["user", "assistant"]
    screenshot(page, "playground-reply")
    assert_accessible(page)

    page.get_by_label("Message", exact=True).fill("and a second time")
    page.get_by_role("button", name="Send").click()
    reply.filter(has_text='You said: "and a second time"').wait_for()
    assert _transcript(page).locator(".turn").count() == 4


def test_a_tool_call_is_shown_with_its_arguments(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    _open_playground(page, gateway)

    page.get_by_text("Tools (optional)").click()
    page.get_by_label("Tools as JSON").fill(json.dumps(WEATHER_TOOL))
    page.get_by_label("Tool choice").select_option("required")
    page.get_by_label("Message", exact=True).fill("weather in Paris?")
    page.get_by_role("button", name="Send").click()

    call = _transcript(page).locator(".tool-calls li")
    call.wait_for()
    assert "get_weather" in call.inner_text() and '"city"' in call.inner_text()
    screenshot(page, "playground-tool-call")
    assert_accessible(page)


def test_without_the_script_the_form_posts_and_shows_the_whole_reply(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.route("**/ui/static/playground.js", lambda route: route.abort())
    sign_in(page, gateway, MASTER_KEY)
    page.goto(f"{gateway}/ui/playground")

    page.get_by_label("Message", exact=True).fill("no script here")
    page.get_by_role("button", name="Send").click()

    _transcript(page).locator(".turn.assistant").filter(has_text='You said: "no script here"').wait_for()
    screenshot(page, "playground-no-script")
    assert_accessible(page)


def test_a_refusal_is_shown_in_plain_words(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    made = httpx.post(
        f"{gateway}/key/generate", json={"rpm_limit": 1}, headers={"authorization": f"Bearer {MASTER_KEY}"}
    )
    _open_playground(page, gateway, made.json()["key"])

    for text in ("first", "second"):
        page.get_by_label("Message", exact=True).fill(text)
        page.get_by_role("button", name="Send").click()
        page.wait_for_function("document.querySelector('#transcript').getAttribute('aria-busy') === 'false'")

    alert = page.get_by_role("alert").filter(has_text="Too many requests right now.")
    alert.wait_for()
    assert _transcript(page).locator(".turn").count() == 2  # the refused message is not kept
    screenshot(page, "playground-refused")
    assert_accessible(page)
