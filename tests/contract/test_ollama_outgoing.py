"""What the Ollama adapter puts on the wire: URL, headers and the `/api/chat` body, exactly."""

from __future__ import annotations

import base64

import pytest

from domain.completions import NativeRequest, ReasoningEffort, SamplingParams
from domain.deployments import Credentials, Secret
from domain.embeddings import EmbeddingRequest
from domain.errors import BadRequestError, UnsupportedParameterError
from domain.messages import (
    DocumentPart,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
    ToolChoiceMode,
)
from tests.contract.harnesses.base import WEATHER_TOOL, chat_request
from tests.contract.harnesses.ollama import OllamaHarness
from tests.contract.outgoing import harness_fixture, sent_body, sent_chat, sent_json

harness = harness_fixture(OllamaHarness)


async def test_a_chat_is_posted_to_api_chat_unstreamed(harness: OllamaHarness) -> None:
    (sent,) = await sent_chat(harness)

    assert sent.method == "POST"
    assert str(sent.url) == "http://ollama.example:11434/api/chat"
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert sent_json(sent) == {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
        "stream": False,
    }


async def test_ollama_and_ollama_chat_deployments_both_use_api_chat_on_localhost_by_default() -> None:
    for provider in ("ollama", "ollama_chat"):
        sent = await sent_chat(OllamaHarness(provider=provider, api_base=None))
        assert str(sent[0].url) == "http://localhost:11434/api/chat"


async def test_a_configured_key_goes_as_a_bearer_token() -> None:
    sent = await sent_chat(OllamaHarness(credentials=Credentials(api_key=Secret("ollama-cloud-key"))))

    assert sent[0].headers["authorization"] == "Bearer ollama-cloud-key"


async def test_sampling_parameters_become_options_and_max_tokens_num_predict(harness: OllamaHarness) -> None:
    params = SamplingParams(
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=("\n", "user:"),
        seed=42,
        presence_penalty=1.5,
        frequency_penalty=1.0,
    )

    body = await sent_body(
        harness, params=params, extra_body={"options": {"num_ctx": 8192}, "keep_alive": "5m"}
    )

    assert body["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 42,
        "presence_penalty": 1.5,
        "frequency_penalty": 1.0,
        "num_predict": 64,
        "stop": ["\n", "user:"],
        "num_ctx": 8192,
    }
    assert body["keep_alive"] == "5m"


@pytest.mark.parametrize(
    ("effort", "think"),
    [
        (ReasoningEffort.NONE, False),
        (ReasoningEffort.LOW, "low"),
        (ReasoningEffort.MEDIUM, "medium"),
        (ReasoningEffort.HIGH, "high"),
        (ReasoningEffort.XHIGH, "max"),
    ],
)
async def test_reasoning_effort_becomes_think(
    harness: OllamaHarness, effort: ReasoningEffort, think: bool | str
) -> None:
    body = await sent_body(harness, params=SamplingParams(reasoning_effort=effort))

    assert body["think"] == think


async def test_a_tool_round_trip_sends_arguments_as_an_object_and_names_the_tool_of_the_result(
    harness: OllamaHarness,
) -> None:
    messages = (
        Message(Role.USER, "What is the weather in Toronto?"),
        Message(
            Role.ASSISTANT,
            None,
            tool_calls=(ToolCall("call_1", "get_current_weather", '{"location": "Toronto"}'),),
        ),
        Message(Role.TOOL, "11 degrees celsius", tool_call_id="call_1"),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))

    assert body["messages"] == [
        {"role": "user", "content": "What is the weather in Toronto?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "function": {"name": "get_current_weather", "arguments": {"location": "Toronto"}},
                }
            ],
        },
        {
            "role": "tool",
            "content": "11 degrees celsius",
            "tool_call_id": "call_1",
            "tool_name": "get_current_weather",
        },
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": WEATHER_TOOL.description,
                "parameters": WEATHER_TOOL.parameters,
            },
        }
    ]


async def test_tool_arguments_that_are_not_json_are_refused_before_anything_is_sent(
    harness: OllamaHarness,
) -> None:
    messages = (
        Message(Role.USER, "Hi"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("call_1", "f", "{not json"),)),
        Message(Role.TOOL, "ok", tool_call_id="call_1"),
    )

    with pytest.raises(BadRequestError):
        await harness.provider.complete(chat_request(messages=messages), harness.deployment)

    assert harness.upstream.sent == []


async def test_tool_choice_none_sends_no_tools(harness: OllamaHarness) -> None:
    body = await sent_body(harness, tools=(WEATHER_TOOL,), tool_choice=ToolChoiceMode.NONE)

    assert "tools" not in body
    assert "tool_choice" not in body


@pytest.mark.parametrize("choice", [ToolChoiceMode.REQUIRED, NamedToolChoice("get_current_weather")])
def test_forcing_tool_calls_is_declared_unsupported(harness: OllamaHarness, choice: object) -> None:
    request = chat_request(tools=(WEATHER_TOOL,), tool_choice=choice)

    assert "tool_choice" in harness.provider.unsupported_params(request, harness.deployment)


async def test_a_data_url_image_goes_as_bare_base64_in_the_messages_images(harness: OllamaHarness) -> None:
    content = (
        TextPart("What is in this picture?"),
        ImagePart("data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="),
    )

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {"role": "user", "content": "What is in this picture?", "images": ["iVBORw0KGgoAAAANSUhEUg=="]}
    ]


async def test_an_https_image_is_refused_clearly_before_anything_is_sent(harness: OllamaHarness) -> None:
    content = (TextPart("What is here?"), ImagePart("https://example.com/cat.jpg"))

    with pytest.raises(UnsupportedParameterError) as raised:
        await harness.provider.complete(
            chat_request(messages=(Message(Role.USER, content),)), harness.deployment
        )

    assert raised.value.param == "messages"
    assert "https://example.com/cat.jpg" in raised.value.message
    assert harness.upstream.sent == []


async def test_a_json_schema_format_is_the_schema_itself(harness: OllamaHarness) -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}

    body = await sent_body(
        harness, response_format=ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="age", schema=schema)
    )

    assert body["format"] == schema


async def test_a_json_object_format_is_json_mode(harness: OllamaHarness) -> None:
    body = await sent_body(harness, response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT))

    assert body["format"] == "json"


async def test_a_stream_is_asked_for_with_stream_true(harness: OllamaHarness) -> None:
    harness.text_reply(stream=True)

    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)
    await stream.aclose()

    (sent,) = harness.upstream.sent
    assert sent_json(sent)["stream"] is True
    assert sent.extensions["timeout"] == {"connect": 2.0, "read": 5.0, "write": 30.0, "pool": 30.0}


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        (SamplingParams(logit_bias={"1": 1.0}), ["logit_bias"]),
        (SamplingParams(n=3), ["n"]),
        (SamplingParams(logprobs=True), ["logprobs"]),
        (SamplingParams(user="u"), ["user"]),
        (SamplingParams(seed=1, temperature=0.1, max_completion_tokens=5), []),
    ],
)
def test_what_ollama_cannot_honour_is_named(
    harness: OllamaHarness, params: SamplingParams, refused: list[str]
) -> None:
    assert (
        list(harness.provider.unsupported_params(chat_request(params=params), harness.deployment)) == refused
    )


async def test_embeddings_are_posted_to_api_embed_with_the_inputs_as_a_list(harness: OllamaHarness) -> None:
    harness.embeddings(wire="float")

    await harness.provider.embed(
        EmbeddingRequest(model="e", inputs=("a", "b"), dimensions=8), harness.deployment
    )

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "http://ollama.example:11434/api/embed"
    assert sent_json(sent) == {"model": "llama3.2", "input": ["a", "b"], "dimensions": 8}


async def test_top_k_is_an_option_and_the_deployments_presets_apply_unless_the_caller_overrides() -> None:
    harness = OllamaHarness(extra_params={"top_k": 20, "extra_body": {"keep_alive": "10m"}})

    preset = await sent_body(harness)
    overridden = await sent_body(harness, extra_body={"top_k": 5})
    await harness.close()

    assert (preset["options"], preset["keep_alive"]) == ({"top_k": 20}, "10m")
    assert overridden["options"] == {"top_k": 5}
    assert "top_k" not in preset and "top_k" not in overridden


# What a request that arrived in Anthropic's format carries.

NOTE = "data:text/plain;base64," + base64.b64encode(b"The lease runs for two years.").decode()
PDF = "data:application/pdf;base64,JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="


async def test_a_thinking_budget_turns_thinking_on_and_top_k_is_an_option(harness: OllamaHarness) -> None:
    body = await sent_body(harness, params=SamplingParams(thinking_budget=2000, top_k=40))

    assert body["think"] is True
    assert body["options"] == {"top_k": 40}


async def test_an_explicit_reasoning_effort_wins_over_a_thinking_budget(harness: OllamaHarness) -> None:
    params = SamplingParams(reasoning_effort=ReasoningEffort.HIGH, thinking_budget=2000)

    assert (await sent_body(harness, params=params))["think"] == "high"


async def test_a_plain_text_document_is_a_paragraph_of_the_message(harness: OllamaHarness) -> None:
    content = (TextPart("Summarise this."), DocumentPart(NOTE), TextPart("Briefly."))

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {"role": "user", "content": "Summarise this.\n\nThe lease runs for two years.\n\nBriefly."}
    ]


@pytest.mark.parametrize("url", [PDF, "https://example.com/lease.pdf"])
def test_a_document_other_than_plain_text_is_declared_unsupported(harness: OllamaHarness, url: str) -> None:
    request = chat_request(messages=(Message(Role.USER, (TextPart("Read it."), DocumentPart(url))),))

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == ["documents"]


async def test_a_dropped_document_is_left_out_and_earlier_thinking_stays_behind(
    harness: OllamaHarness,
) -> None:
    messages = (
        Message(Role.USER, (TextPart("Read it."), DocumentPart(PDF))),
        Message(Role.ASSISTANT, "Read.", thinking_blocks=(ThinkingBlock("Skim it.", signature="EqQB"),)),
        Message(Role.USER, "And?"),
    )

    body = await sent_body(harness, messages=messages)

    assert body["messages"] == [
        {"role": "user", "content": "Read it."},
        {"role": "assistant", "content": "Read."},
        {"role": "user", "content": "And?"},
    ]


async def test_a_request_native_to_another_format_is_sent_as_its_translation(harness: OllamaHarness) -> None:
    native = NativeRequest(
        "anthropic", {"model": "claude", "max_tokens": 64, "messages": []}, {"anthropic-beta": "x"}
    )

    plain = await sent_body(harness, params=SamplingParams(max_tokens=64))
    translated = await sent_body(harness, params=SamplingParams(max_tokens=64), native=native)

    assert translated == plain
    assert "anthropic-beta" not in harness.upstream.sent[-1].headers
