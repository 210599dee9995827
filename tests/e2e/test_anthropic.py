"""The real server in front of a fake Anthropic Messages API, driven by the official `openai` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.conftest import MESSAGES, WEATHER_TOOL, gateway_serving

pytestmark = pytest.mark.e2e

SCENARIOS = ["claude-ok", "claude-tools", "claude-overloaded", "claude-rate-limited"]


@pytest.fixture(scope="module")
def anthropic_upstream() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def client(
    anthropic_upstream: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[openai.OpenAI]:
    common = {"api_base": anthropic_upstream.base_url, "api_key": "sk-ant-e2e"}
    model_list = [
        {"model_name": name, "litellm_params": {"model": f"anthropic/{name}", **common}} for name in SCENARIOS
    ]
    with gateway_serving(model_list, Path(tmp_path_factory.mktemp("e2e-anthropic"))) as client:
        yield client


def test_a_chat_reaches_anthropic_in_its_own_format_and_comes_back_in_openais(
    client: openai.OpenAI, anthropic_upstream: FakeAnthropic
) -> None:
    reply = client.chat.completions.create(model="claude-ok", messages=MESSAGES, max_tokens=100)

    assert reply.choices[0].message.content == "Hello from Claude!"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (12, 5)
    assert reply.usage.prompt_tokens_details.cached_tokens == 6
    sent = anthropic_upstream.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == "sk-ant-e2e"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"]["system"] == "Be brief."
    assert sent["body"]["messages"] == [{"role": "user", "content": "Hello"}]
    assert sent["body"]["max_tokens"] == 100


def test_a_stream_arrives_chunk_by_chunk_with_usage_when_asked(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="claude-ok", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from Claude!"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage.total_tokens == 17


def test_tool_calls_survive_both_whole_and_streamed(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="claude-tools", messages=MESSAGES, tools=[WEATHER_TOOL])
    streamed = list(
        client.chat.completions.create(
            model="claude-tools", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
        )
    )

    call = whole.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "toolu_01E2EWeatherCall", "get_weather", {"city": "Paris"},
    )  # fmt: skip
    assert whole.choices[0].finish_reason == "tool_calls"
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "toolu_01E2EWeatherCall" and deltas[0].function.name == "get_weather"
    assert all(d.index == 0 for d in deltas)
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "tool_calls"


def test_an_overloaded_anthropic_is_a_503(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="claude-overloaded", messages=MESSAGES)

    assert caught.value.status_code == 503
    assert "Overloaded" in caught.value.message


def test_an_anthropic_rate_limit_is_a_429_with_its_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="claude-rate-limited", messages=MESSAGES)

    assert caught.value.response.headers["retry-after"] == "4"
