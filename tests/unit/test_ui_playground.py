"""The console's Playground through Litestar's test client: the models the caller may use, a reply
streamed as server-sent events or shown whole without JavaScript, and the API's refusals (model not
allowed, rate limit, bad field) in plain words."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from html import unescape

import pytest
from litestar.testing import AsyncTestClient

from tests.unit.ui_console import MASTER, Client, console_app, new_key, sign_in

WEATHER_TOOL = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def _add_model(client: Client, name: str) -> None:
    body = {"model_name": name, "litellm_params": {"model": f"mock/{name}"}}
    response = await client.post("/model/new", json=body, headers=MASTER)
    assert response.status_code == 200, response.text


def _chat_form(token: str, message: str = "hello there", **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "model": "demo", "message": message, "conversation": "[]", **fields}


def _events(body: str) -> list[dict]:
    data = [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]", body
    return [json.loads(item) for item in data[:-1]]


def _kept_conversation(page: str) -> list[dict]:
    found = re.search(r'name="conversation" value="([^"]*)"', page)
    assert found is not None
    return json.loads(unescape(found.group(1)))


async def test_the_page_offers_only_the_models_the_caller_may_use(client: Client) -> None:
    await _add_model(client, "other")
    key = await new_key(client, models=["demo"])
    await sign_in(client, key)

    page = (await client.get("/ui/playground")).text

    assert '<option value="demo"' in page and '<option value="other"' not in page
    assert 'aria-live="polite"' in page and '<label for="f-message">Message</label>' in page
    assert '<script type="module" src="/ui/static/playground.js">' in page


async def test_the_script_is_served_from_the_console(client: Client) -> None:
    response = await client.get("/ui/static/playground.js")

    assert response.status_code == 200 and "javascript" in response.headers["content-type"]


async def test_a_reply_streams_as_chat_completion_chunks(client: Client) -> None:
    token = await sign_in(client)

    response = await client.post("/ui/playground/chat", data=_chat_form(token, temperature="0.2"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    text = "".join(c["delta"].get("content") or "" for e in _events(response.text) for c in e["choices"])
    assert 'You said: "hello there"' in text


async def test_a_streamed_tool_call_carries_its_name_and_arguments(client: Client) -> None:
    token = await sign_in(client)
    form = _chat_form(token, tools=json.dumps(WEATHER_TOOL), tool_choice="required")

    response = await client.post("/ui/playground/chat", data=form)

    deltas = [
        d for e in _events(response.text) for c in e["choices"] for d in c["delta"].get("tool_calls") or []
    ]
    assert deltas[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(d["function"].get("arguments") or "" for d in deltas)) == {"city": ""}


async def test_without_javascript_the_page_comes_back_with_the_whole_reply_and_the_conversation(
    client: Client,
) -> None:
    token = await sign_in(client)

    first = await client.post("/ui/playground", data=_chat_form(token, system="Be brief."))
    kept = _kept_conversation(first.text)
    second = await client.post(
        "/ui/playground",
        data=_chat_form(token, "and again", system="Be brief.", conversation=json.dumps(kept)),
    )

    assert first.status_code == 200 and "You said: &#34;hello there&#34;" in first.text
    assert [turn["role"] for turn in kept] == ["user", "assistant"]
    assert [turn["content"] for turn in _kept_conversation(second.text)][2] == "and again"
    assert "You said: &#34;and again&#34;" in second.text and "hello there" in second.text
    assert "Be brief." in second.text  # the settings are kept, the message field is emptied
    assert re.search(r'<textarea id="f-message"[^>]*></textarea>', second.text) is not None


async def test_without_javascript_a_tool_call_is_shown_with_its_arguments(client: Client) -> None:
    token = await sign_in(client)

    page = await client.post(
        "/ui/playground", data=_chat_form(token, tools=json.dumps(WEATHER_TOOL), tool_choice="required")
    )

    assert '<code class="tool-name">get_weather</code>' in page.text
    assert _kept_conversation(page.text)[1]["tool_calls"][0]["name"] == "get_weather"


async def test_a_streamed_reply_is_recorded_in_the_spend_logs_as_the_keys_call(client: Client) -> None:
    key = await new_key(client, key_alias="playground-key")
    token = await sign_in(client, key)

    response = await client.post("/ui/playground/chat", data=_chat_form(token))
    call_id = response.headers["x-switchyard-call-id"]
    for _ in range(200):  # the ledger is written beside the calls
        logs = (await client.get("/spend/logs", params={"request_id": call_id}, headers=MASTER)).json()
        if logs:
            break
        await asyncio.sleep(0.01)

    (record,) = logs
    assert record["model_group"] == "demo" and record["call_type"] == "stream"
    assert record["metadata"]["user_api_key_alias"] == "playground-key"


async def test_a_model_outside_the_keys_list_is_refused_in_plain_words(client: Client) -> None:
    await _add_model(client, "other")
    key = await new_key(client, models=["other"])
    token = await sign_in(client, key)

    streamed = await client.post("/ui/playground/chat", data=_chat_form(token))
    page = await client.post("/ui/playground", data=_chat_form(token))

    assert streamed.status_code == 403
    assert streamed.json()["error"]["message"].startswith("You may not use this model.")
    assert page.status_code == 403 and "You may not use this model." in page.text


async def test_a_rate_limited_key_is_told_to_wait(client: Client) -> None:
    key = await new_key(client, rpm_limit=1)
    token = await sign_in(client, key)

    first = await client.post("/ui/playground/chat", data=_chat_form(token))
    second = await client.post("/ui/playground/chat", data=_chat_form(token))

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json()["error"]["message"].startswith("Too many requests right now. Try again in")


async def test_a_key_whose_budget_is_spent_is_told_so(client: Client) -> None:
    key = await new_key(client, max_budget=0)
    token = await sign_in(client, key)

    response = await client.post("/ui/playground/chat", data=_chat_form(token))

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("The budget for this is spent.")


async def test_a_bad_field_is_named_next_to_it(client: Client) -> None:
    token = await sign_in(client)

    streamed = await client.post("/ui/playground/chat", data=_chat_form(token, tools="[not json"))
    page = await client.post("/ui/playground", data=_chat_form(token, temperature="hot"))

    assert streamed.status_code == 400 and streamed.json()["error"]["param"] == "tools"
    assert page.status_code == 400
    assert '<p class="error" id="f-temperature-error">temperature must be a number.</p>' in page.text
    assert 'value="hot"' in page.text


async def test_a_damaged_conversation_is_refused_for_the_whole_form(client: Client) -> None:
    token = await sign_in(client)

    page = await client.post("/ui/playground", data=_chat_form(token, conversation='[{"role": "tool"}]'))

    assert page.status_code == 400 and "start a new one" in page.text


async def test_a_post_without_the_csrf_token_is_refused(client: Client) -> None:
    await sign_in(client)

    response = await client.post("/ui/playground/chat", data=_chat_form(""))

    assert response.status_code == 403
