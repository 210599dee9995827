"""The real server in front of a fake Amazon Bedrock runtime that checks SigV4 signatures like AWS,
driven by the official `openai` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.bedrock_upstream import ACCESS_KEY, SECRET_KEY, FakeBedrock
from tests.e2e.conftest import MESSAGES, WEATHER_TOOL, gateway_serving

pytestmark = pytest.mark.e2e

MODELS = {
    "bedrock-ok": "bedrock/anthropic.claude-e2e-ok-v1:0",
    "bedrock-converse": "bedrock/converse/anthropic.claude-e2e-ok-v1:0",
    "bedrock-profile": "bedrock/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/e2e-ok",
    "bedrock-tools": "bedrock/anthropic.claude-e2e-tools-v1:0",
    "bedrock-throttled": "bedrock/anthropic.claude-e2e-throttled-v1:0",
    "bedrock-too-long": "bedrock/anthropic.claude-e2e-too-long-v1:0",
    "bedrock-broken-stream": "bedrock/anthropic.claude-e2e-broken-stream-v1:0",
}


@pytest.fixture(scope="module")
def bedrock() -> Iterator[FakeBedrock]:
    with FakeBedrock() as server:
        yield server


@pytest.fixture(scope="module")
def client(bedrock: FakeBedrock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    keys = {
        "api_base": bedrock.base_url,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_region_name": "us-east-1",
    }
    model_list = [
        {"model_name": name, "litellm_params": {"model": model, **keys}} for name, model in MODELS.items()
    ]
    model_list.append(
        {
            "model_name": "titan-embed",
            "litellm_params": {"model": "bedrock/amazon.titan-embed-text-v2:0", **keys},
            "model_info": {"mode": "embedding"},
        }
    )
    with gateway_serving(model_list, Path(tmp_path_factory.mktemp("e2e-bedrock"))) as client:
        yield client


def test_a_signed_chat_reaches_converse_and_comes_back_in_openais_format(
    client: openai.OpenAI, bedrock: FakeBedrock
) -> None:
    reply = client.chat.completions.create(model="bedrock-ok", messages=MESSAGES, max_tokens=100)

    assert reply.choices[0].message.content == "Hello from Bedrock!"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 3)
    assert reply.usage.prompt_tokens_details.cached_tokens == 2
    sent = bedrock.requests[-1]
    assert sent["path"] == "/model/anthropic.claude-e2e-ok-v1:0/converse"
    assert sent["headers"]["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert sent["body"] == {
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 100},
    }


@pytest.mark.parametrize("model", ["bedrock-converse", "bedrock-profile"])
def test_route_prefixed_and_arn_model_ids_reach_their_model_with_a_valid_signature(
    client: openai.OpenAI, bedrock: FakeBedrock, model: str
) -> None:
    reply = client.chat.completions.create(model=model, messages=MESSAGES)

    assert reply.choices[0].message.content == "Hello from Bedrock!"
    assert bedrock.requests[-1]["model"] == MODELS[model].removeprefix("bedrock/").removeprefix("converse/")


def test_a_stream_arrives_chunk_by_chunk_from_the_binary_event_stream(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="bedrock-ok", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    deltas = [c.choices[0] for c in chunks if c.choices]
    assert deltas[0].delta.role == "assistant"
    assert "".join(d.delta.content or "" for d in deltas) == "Hello from Bedrock!"
    assert deltas[-1].finish_reason == "stop"
    assert chunks[-1].usage.total_tokens == 14


def test_tool_calls_survive_both_whole_and_streamed(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="bedrock-tools", messages=MESSAGES, tools=[WEATHER_TOOL])
    streamed = list(
        client.chat.completions.create(
            model="bedrock-tools", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
        )
    )

    call = whole.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "tooluse_E2EWeatherCall", "get_weather", {"city": "Paris"},
    )  # fmt: skip
    assert whole.choices[0].finish_reason == "tool_calls"
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert (deltas[0].id, deltas[0].function.name) == ("tooluse_E2EWeatherCall", "get_weather")
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in streamed if c.choices][-1] == "tool_calls"


def test_a_bedrock_throttle_is_a_rate_limit_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="bedrock-throttled", messages=MESSAGES)

    assert caught.value.status_code == 429


def test_an_input_too_long_for_the_model_is_a_context_length_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="bedrock-too-long", messages=MESSAGES, stream=True)

    assert caught.value.code == "context_length_exceeded"


def test_an_exception_mid_stream_ends_the_stream_with_an_error_after_the_text_before_it(
    client: openai.OpenAI,
) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(
            model="bedrock-broken-stream", messages=MESSAGES, stream=True
        ):
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "Hello from Bedrock!"
    assert "unexpected error" in caught.value.message


def test_titan_embeddings_come_back_one_vector_per_input(client: openai.OpenAI, bedrock: FakeBedrock) -> None:
    result = client.embeddings.create(model="titan-embed", input=["one", "three"], dimensions=3)

    assert [d.embedding for d in result.data] == [[0.75, -0.5, 1.0], [0.25, -0.5, 1.0]]
    assert result.usage.prompt_tokens == 2
    titan_calls = [r for r in bedrock.requests if r["operation"] == "invoke"][-2:]
    assert sorted(r["body"]["inputText"] for r in titan_calls) == ["one", "three"]
    assert all(r["body"]["dimensions"] == 3 for r in titan_calls)
