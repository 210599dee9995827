"""The real server in front of a Gemini (and a Vertex AI) upstream, driven by the official `openai` client."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import MASTER_KEY, USER, WEATHER_TOOL, gateway_client, running_gateway
from tests.e2e.gemini_upstream import ACCESS_TOKEN, SIGNATURE, GeminiUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def gemini_upstream() -> Iterator[GeminiUpstream]:
    with GeminiUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(gemini_upstream: GeminiUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("gemini-e2e")
    credentials = directory / "adc.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "e2e-client",
                "client_secret": "e2e-secret",
                "refresh_token": "1//e2e-refresh",
                "token_uri": f"{gemini_upstream.base_url}/token",
            }
        )
    )
    gemini = {"api_base": gemini_upstream.base_url, "api_key": "AIza-e2e-key"}
    model_list = [
        {"model_name": f"g-{name}", "litellm_params": {"model": f"gemini/gemini-{name}", **gemini}}
        for name in ("ok", "tools", "quota")
    ]
    model_list.append(
        {
            "model_name": "v-ok",
            "litellm_params": {
                "model": "vertex_ai/gemini-ok",
                "api_base": gemini_upstream.base_url,
                "vertex_project": "e2e-project",
                "vertex_location": "europe-west4",
                "vertex_credentials": str(credentials),
            },
        }
    )
    config = {
        "model_list": model_list,
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": MASTER_KEY},
    }
    with running_gateway(config, Path(directory)) as url:
        yield url


@pytest.fixture
def client(gateway: str) -> openai.OpenAI:
    return gateway_client(gateway)


def test_a_chat_reaches_gemini_with_the_key_in_a_header_and_comes_back(
    client: openai.OpenAI, gemini_upstream: GeminiUpstream
) -> None:
    reply = client.chat.completions.create(
        model="g-ok", messages=[{"role": "system", "content": "Be kind."}, *USER], max_tokens=20
    )

    assert reply.choices[0].message.content == "Hello from Gemini!"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (9, 3)
    sent = gemini_upstream.requests[-1]
    assert sent["path"] == "/v1beta/models/gemini-ok:generateContent"
    assert sent["headers"]["x-goog-api-key"] == "AIza-e2e-key"
    assert sent["body"] == {
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
        "systemInstruction": {"parts": [{"text": "Be kind."}]},
        "generationConfig": {"maxOutputTokens": 20},
    }


def test_a_stream_arrives_in_pieces_with_usage_when_asked(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="g-ok", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from Gemini!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.total_tokens == 12


def test_a_tool_call_survives_whole_and_streamed_and_its_signature_goes_back_upstream(
    client: openai.OpenAI, gemini_upstream: GeminiUpstream
) -> None:
    whole = client.chat.completions.create(model="g-tools", messages=USER, tools=[WEATHER_TOOL])
    streamed = list(
        client.chat.completions.create(model="g-tools", messages=USER, tools=[WEATHER_TOOL], stream=True)
    )

    call = whole.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    assert whole.choices[0].finish_reason == "tool_calls"
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert (deltas[0].id, deltas[0].function.name) == (call.id, "get_weather")
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "tool_calls"

    client.chat.completions.create(
        model="g-ok",
        messages=[
            *USER,
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
        ],
        tools=[WEATHER_TOOL],
    )

    model_turn, result_turn = gemini_upstream.requests[-1]["body"]["contents"][1:]
    assert model_turn["parts"] == [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIGNATURE}
    ]
    assert result_turn["parts"] == [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}]


def test_an_exhausted_quota_is_a_429_with_googles_retry_delay(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="g-quota", messages=USER)

    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"] == "3"
    assert "exceeded your current quota" in raised.value.message


def test_vertex_calls_its_project_path_with_a_token_from_the_credentials(
    client: openai.OpenAI, gemini_upstream: GeminiUpstream
) -> None:
    first = client.chat.completions.create(model="v-ok", messages=USER)
    second = client.chat.completions.create(model="v-ok", messages=USER, stream=True)

    assert first.choices[0].message.content == "Hello from Gemini!"
    assert "".join(c.choices[0].delta.content or "" for c in second if c.choices) == "Hello from Gemini!"
    vertex_calls = [r for r in gemini_upstream.requests if r["path"].startswith("/v1/projects/")]
    assert [r["path"] for r in vertex_calls] == [
        "/v1/projects/e2e-project/locations/europe-west4/publishers/google/models/gemini-ok:generateContent",
        "/v1/projects/e2e-project/locations/europe-west4/publishers/google/models/gemini-ok:"
        "streamGenerateContent?alt=sse",
    ]
    assert all(r["headers"]["authorization"] == f"Bearer {ACCESS_TOKEN}" for r in vertex_calls)
    (token_form,) = gemini_upstream.token_requests
    assert dict(urllib.parse.parse_qsl(token_form))["refresh_token"] == "1//e2e-refresh"
