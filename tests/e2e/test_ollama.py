"""The real server in front of a fake Ollama (native API), driven by the official `openai` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import MESSAGES, WEATHER_TOOL, gateway_serving
from tests.e2e.ollama_upstream import FakeOllama

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture(scope="module")
def client(ollama: FakeOllama, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    base = {"api_base": ollama.base_url}
    model_list = [
        {"model_name": "llama", "litellm_params": {"model": "ollama_chat/ok", **base}},
        {"model_name": "llama-plain", "litellm_params": {"model": "ollama/ok", **base}},
        {"model_name": "llama-tools", "litellm_params": {"model": "ollama_chat/tools", **base}},
        {"model_name": "llama-missing", "litellm_params": {"model": "ollama_chat/missing", **base}},
        {
            "model_name": "minilm",
            "litellm_params": {"model": "ollama/all-minilm", **base},
            "model_info": {"mode": "embedding"},
        },
    ]
    with gateway_serving(model_list, Path(tmp_path_factory.mktemp("e2e-ollama"))) as client:
        yield client


@pytest.mark.parametrize("model", ["llama", "llama-plain"])
def test_a_chat_reaches_ollamas_native_api_and_comes_back_in_openais_format(
    client: openai.OpenAI, ollama: FakeOllama, model: str
) -> None:
    reply = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=50, temperature=0.1)

    assert reply.choices[0].message.content == "Hello from Ollama!"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (9, 4)
    sent = ollama.requests[-1]
    assert sent["path"] == "/api/chat"
    assert sent["body"]["stream"] is False
    assert sent["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["body"]["options"] == {"temperature": 0.1, "num_predict": 50}


def test_a_stream_arrives_from_ndjson_lines_with_usage_when_asked(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="llama", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from Ollama!"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage.total_tokens == 13


def test_tool_calls_come_back_whole_and_streamed_with_ids_and_json_arguments(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model="llama-tools", messages=MESSAGES, tools=[WEATHER_TOOL])
    streamed = list(
        client.chat.completions.create(
            model="llama-tools", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
        )
    )

    call = whole.choices[0].message.tool_calls[0]
    assert call.id and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert whole.choices[0].finish_reason == "tool_calls"
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert streamed[-1].choices[0].finish_reason == "tool_calls"


def test_a_model_ollama_does_not_have_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="llama-missing", messages=MESSAGES)

    assert "try pulling it first" in raised.value.message


def test_embeddings_come_back_through_api_embed(client: openai.OpenAI, ollama: FakeOllama) -> None:
    result = client.embeddings.create(model="minilm", input=["a", "b"])

    assert [item.embedding for item in result.data] == [[0.25, -0.5, 1.0]] * 2
    assert ollama.requests[-1]["path"] == "/api/embed"
    assert ollama.requests[-1]["body"]["input"] == ["a", "b"]
