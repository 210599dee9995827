"""The real server, driven by the official `openai` client."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import MASTER_KEY, USER, WEATHER_TOOL, gateway_client

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(gateway_url: str) -> openai.OpenAI:
    return gateway_client(gateway_url)


def test_chat_reaches_the_upstream_and_comes_back(client, upstream) -> None:
    reply = client.chat.completions.create(model="e2e-ok", messages=USER)

    assert reply.choices[0].message.content == "Hello from upstream!"
    assert reply.usage.total_tokens == 12
    sent = upstream.requests[-1]
    assert sent["body"]["model"] == "ok"
    assert sent["headers"]["authorization"] == "Bearer sk-upstream"


def test_the_raw_response_carries_the_gateway_headers(client) -> None:
    raw = client.chat.completions.with_raw_response.create(model="e2e-ok", messages=USER)

    assert raw.headers["x-switchyard-call-id"]
    assert raw.headers["x-switchyard-model-id"]
    assert float(raw.headers["x-switchyard-overhead-duration-ms"]) >= 0


def test_a_stream_arrives_chunk_by_chunk_with_usage_when_asked(client) -> None:
    chunks = list(
        client.chat.completions.create(
            model="e2e-ok", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from upstream!"
    assert chunks[-1].usage.total_tokens == 12


def test_tool_calls_survive_both_whole_and_streamed(client) -> None:
    whole = client.chat.completions.create(model="e2e-tools", messages=USER, tools=[WEATHER_TOOL])
    streamed = list(
        client.chat.completions.create(model="e2e-tools", messages=USER, tools=[WEATHER_TOOL], stream=True)
    )

    call = whole.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_abc123", "get_weather", {"city": "Paris"},
    )  # fmt: skip
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "call_abc123" and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert streamed[-1].choices[0].finish_reason == "tool_calls"


def test_embeddings_come_back_as_floats_through_the_clients_base64_default(client) -> None:
    result = client.embeddings.create(model="e2e-embed", input=["a", "b"])

    assert [d.embedding for d in result.data] == [[0.25, -0.5, 1.0], [0.25, -0.5, 1.0]]


def test_models_lists_the_configured_names(client) -> None:
    names = {m.id for m in client.models.list()}

    assert {"e2e-ok", "e2e-embed", "demo"} <= names


def test_the_offline_demo_model_answers_and_streams(client) -> None:
    reply = client.chat.completions.create(model="demo", messages=USER)
    streamed = list(client.chat.completions.create(model="demo", messages=USER, stream=True))

    assert reply.choices[0].message.content
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == (
        reply.choices[0].message.content
    )


def test_an_upstream_429_is_a_rate_limit_error_with_retry_after(client) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="e2e-rate-limited", messages=USER)

    assert caught.value.response.headers["retry-after"] == "3"


def test_an_upstream_context_length_error_is_a_bad_request_with_its_code(client) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="e2e-too-long", messages=USER)

    assert caught.value.code == "context_length_exceeded"


def test_an_upstream_500_is_an_internal_server_error(client) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="e2e-broken", messages=USER)

    assert caught.value.status_code == 500


def test_a_dropped_upstream_connection_is_a_clear_gateway_error(client) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="e2e-drop", messages=USER)

    assert caught.value.status_code in (502, 503)
    assert caught.value.body["type"] in ("api_connection_error", "bad_gateway")


def test_an_unknown_model_is_not_found(client) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=USER)

    assert caught.value.code == "model_not_found"


def test_a_wrong_key_is_refused(gateway_url) -> None:
    stranger = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="sk-wrong", max_retries=0)

    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()


def test_a_client_that_hangs_up_mid_stream_cancels_the_upstream_call(gateway_url, upstream) -> None:
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    body = {"model": "e2e-slow-stream", "messages": USER, "stream": True}
    before = len(upstream.hangups)
    with httpx.stream("POST", f"{gateway_url}/v1/chat/completions", json=body, headers=headers) as response:
        next(response.iter_bytes())
    deadline = time.monotonic() + 5
    while len(upstream.hangups) == before and time.monotonic() < deadline:
        time.sleep(0.05)

    assert len(upstream.hangups) > before
