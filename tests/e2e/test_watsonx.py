"""The real server in front of a fake IBM watsonx.ai (and IBM Cloud IAM), driven by the official `openai`
client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import MESSAGES, WEATHER_TOOL, gateway_serving
from tests.e2e.watsonx_upstream import API_KEY, TOKEN, FakeWatsonx

pytestmark = pytest.mark.e2e
PROJECT = "e2e-project-1"


@pytest.fixture(scope="module")
def watsonx() -> Iterator[FakeWatsonx]:
    with FakeWatsonx() as server:
        yield server


@pytest.fixture(scope="module")
def client(watsonx: FakeWatsonx, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    base = {"api_base": watsonx.root, "api_key": API_KEY, "project_id": PROJECT, "iam_url": watsonx.iam_url}
    model_list = [
        {"model_name": "granite", "litellm_params": {"model": "watsonx/ibm/granite-ok", **base}},
        {"model_name": "granite-tools", "litellm_params": {"model": "watsonx/ibm/granite-tools", **base}},
        {"model_name": "granite-missing", "litellm_params": {"model": "watsonx/ibm/missing", **base}},
        {
            "model_name": "slate",
            "litellm_params": {"model": "watsonx/ibm/slate-30m-english-rtrvr", **base},
            "model_info": {"mode": "embedding"},
        },
    ]
    with gateway_serving(model_list, Path(tmp_path_factory.mktemp("e2e-watsonx"))) as client:
        yield client


def test_a_chat_reaches_text_chat_with_an_iam_token_and_comes_back_in_openais_format(
    client: openai.OpenAI, watsonx: FakeWatsonx
) -> None:
    reply = client.chat.completions.create(model="granite", messages=MESSAGES, max_tokens=50, temperature=0.1)

    assert reply.choices[0].message.content == "Hello from watsonx!"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 4)
    sent = watsonx.requests[-1]
    assert sent["path"] == "/ml/v1/text/chat"
    assert sent["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert sent["body"]["model_id"] == "ibm/granite-ok" and sent["body"]["project_id"] == PROJECT
    assert sent["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert next(r for r in watsonx.requests if r["path"] == "/identity/token")["body"] == {
        "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
        "apikey": API_KEY,
    }


def test_a_stream_arrives_from_chat_stream_with_usage_last(
    client: openai.OpenAI, watsonx: FakeWatsonx
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="granite", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from watsonx!"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage.total_tokens == 15
    assert watsonx.requests[-1]["path"] == "/ml/v1/text/chat_stream"


def test_tool_calls_come_back_whole_and_streamed(client: openai.OpenAI, watsonx: FakeWatsonx) -> None:
    whole = client.chat.completions.create(
        model="granite-tools", messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="required"
    )
    streamed = list(
        client.chat.completions.create(
            model="granite-tools", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True
        )
    )

    call = whole.choices[0].message.tool_calls[0]
    assert call.id and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert whole.choices[0].finish_reason == "tool_calls"
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert [r["body"].get("tool_choice_option") for r in watsonx.requests if r["path"] == "/ml/v1/text/chat"][
        -1
    ] == "required"


def test_a_model_watsonx_does_not_serve_is_a_404_with_its_message(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="granite-missing", messages=MESSAGES)

    assert "is not supported" in raised.value.message


def test_embeddings_come_back_through_text_embeddings(client: openai.OpenAI, watsonx: FakeWatsonx) -> None:
    result = client.embeddings.create(model="slate", input=["a", "b"], encoding_format="float")

    assert [item.embedding for item in result.data] == [[0.25, -0.5, 1.0]] * 2
    assert watsonx.requests[-1]["path"] == "/ml/v1/text/embeddings"
    assert watsonx.requests[-1]["body"]["inputs"] == ["a", "b"]
