"""What the Cohere adapter puts on the wire: URL, headers and the v2 body, exactly."""

from __future__ import annotations

import base64

import pytest

from domain.completions import NativeRequest, ReasoningEffort, SamplingParams
from domain.deployments import Credentials
from domain.embeddings import EmbeddingRequest
from domain.errors import UnsupportedParameterError
from domain.messages import (
    DocumentPart,
    FunctionTool,
    ImageDetail,
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
from tests.contract.harnesses.cohere import CohereHarness
from tests.contract.outgoing import harness_fixture, sent_body, sent_chat, sent_json

harness = harness_fixture(CohereHarness)


async def test_a_chat_is_posted_to_v2_chat_with_the_key_as_a_bearer_token(harness: CohereHarness) -> None:
    (sent,) = await sent_chat(harness)

    assert sent.method == "POST"
    assert str(sent.url) == "https://api.cohere.example/v2/chat"
    assert sent.headers["authorization"] == "Bearer co-test-123"
    assert sent.headers["content-type"] == "application/json"
    assert sent_json(sent) == {
        "model": "command-a-03-2025",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
    }


async def test_without_a_base_it_calls_cohere_itself() -> None:
    sent = await sent_chat(CohereHarness(api_base=None))

    assert str(sent[0].url) == "https://api.cohere.com/v2/chat"


async def test_a_base_written_with_its_version_segment_is_not_doubled() -> None:
    sent = await sent_chat(CohereHarness(api_base="https://api.cohere.com/v2/"))

    assert str(sent[0].url) == "https://api.cohere.com/v2/chat"


async def test_sampling_parameters_take_coheres_names(harness: CohereHarness) -> None:
    params = SamplingParams(
        temperature=0.3,
        top_p=0.75,
        max_completion_tokens=64,
        stop=("END",),
        seed=7,
        frequency_penalty=0.2,
        presence_penalty=0.1,
        reasoning_effort=ReasoningEffort.HIGH,
    )

    body = await sent_body(harness, params=params, extra_body={"k": 40, "safety_mode": "STRICT"})

    assert {key: value for key, value in body.items() if key not in ("model", "messages")} == {
        "temperature": 0.3,
        "p": 0.75,
        "max_tokens": 64,
        "stop_sequences": ["END"],
        "seed": 7,
        "frequency_penalty": 0.2,
        "presence_penalty": 0.1,
        "thinking": {"type": "enabled"},
        "k": 40,
        "safety_mode": "STRICT",
    }


async def test_reasoning_effort_none_turns_thinking_off(harness: CohereHarness) -> None:
    body = await sent_body(harness, params=SamplingParams(reasoning_effort=ReasoningEffort.NONE))

    assert body["thinking"] == {"type": "disabled"}


async def test_a_tool_round_trip_carries_the_call_its_plan_and_the_result(harness: CohereHarness) -> None:
    messages = (
        Message(Role.DEVELOPER, "Answer tersely."),
        Message(Role.USER, "Weather in Boston?"),
        Message(
            Role.ASSISTANT,
            None,
            tool_calls=(ToolCall("call_1", "get_current_weather", '{"location":"Boston, MA"}'),),
            reasoning_content="I will look up the weather.",
        ),
        Message(Role.TOOL, '{"temp": 21}', tool_call_id="call_1"),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))

    assert body["messages"] == [
        {"role": "system", "content": "Answer tersely."},
        {"role": "user", "content": "Weather in Boston?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_current_weather", "arguments": '{"location":"Boston, MA"}'},
                }
            ],
            "tool_plan": "I will look up the weather.",
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "parameters": WEATHER_TOOL.parameters,
                "description": WEATHER_TOOL.description,
            },
        }
    ]


async def test_a_tool_without_parameters_gets_an_empty_object_schema_and_strict_tools_is_asked(
    harness: CohereHarness,
) -> None:
    body = await sent_body(harness, tools=(FunctionTool("ping", strict=True),))

    assert body["tools"] == [
        {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
    ]
    assert body["strict_tools"] is True


@pytest.mark.parametrize(
    ("choice", "sent"),
    [(ToolChoiceMode.REQUIRED, "REQUIRED"), (ToolChoiceMode.NONE, "NONE"), (ToolChoiceMode.AUTO, None)],
)
async def test_tool_choice_modes_are_coheres_upper_case_words(
    harness: CohereHarness, choice: ToolChoiceMode, sent: str | None
) -> None:
    body = await sent_body(harness, tools=(WEATHER_TOOL,), tool_choice=choice)

    assert body.get("tool_choice") == sent


def test_forcing_one_named_tool_is_declared_unsupported(harness: CohereHarness) -> None:
    request = chat_request(tools=(WEATHER_TOOL,), tool_choice=NamedToolChoice("get_current_weather"))

    assert "tool_choice" in harness.provider.unsupported_params(request, harness.deployment)


async def test_images_go_as_image_url_parts_by_data_url_or_https(harness: CohereHarness) -> None:
    content = (
        TextPart("What is here?"),
        ImagePart("data:image/png;base64,iVBORw0KGgo=", ImageDetail.LOW),
        ImagePart("https://example.com/cat.jpg"),
    )

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is here?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        }
    ]


async def test_a_json_schema_format_is_a_json_object_with_its_schema(harness: CohereHarness) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    format_ = ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="city", schema=schema)

    body = await sent_body(harness, response_format=format_)

    assert body["response_format"] == {"type": "json_object", "json_schema": schema}


async def test_a_json_object_format_is_sent_without_a_schema(harness: CohereHarness) -> None:
    body = await sent_body(harness, response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT))

    assert body["response_format"] == {"type": "json_object"}


async def test_a_stream_asks_for_events(harness: CohereHarness) -> None:
    harness.text_reply(stream=True)

    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)
    await stream.aclose()

    (sent,) = harness.upstream.sent
    assert sent_json(sent)["stream"] is True
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.extensions["timeout"] == {"connect": 2.0, "read": 5.0, "write": 30.0, "pool": 30.0}


async def test_the_method_called_decides_whether_the_upstream_streams(harness: CohereHarness) -> None:
    body = await sent_body(harness, stream=True)

    assert "stream" not in body


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        (SamplingParams(logit_bias={"1": 1.0}), ["logit_bias"]),
        (SamplingParams(n=2), ["n"]),
        (SamplingParams(n=1), []),
        (SamplingParams(logprobs=True, top_logprobs=2), ["logprobs", "top_logprobs"]),
        (SamplingParams(user="u-1"), ["user"]),
        (SamplingParams(parallel_tool_calls=False), ["parallel_tool_calls"]),
        (SamplingParams(seed=1, temperature=0.5, stop=("x",)), []),
    ],
)
def test_what_cohere_cannot_honour_is_named(
    harness: CohereHarness, params: SamplingParams, refused: list[str]
) -> None:
    assert (
        list(harness.provider.unsupported_params(chat_request(params=params), harness.deployment)) == refused
    )


async def test_embeddings_ask_for_floats_for_search_documents_by_default(harness: CohereHarness) -> None:
    harness.embeddings(wire="float")
    request = EmbeddingRequest(model="embed-x", inputs=("hello", "world"), dimensions=256)

    await harness.provider.embed(request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.cohere.example/v2/embed"
    assert sent.headers["authorization"] == "Bearer co-test-123"
    assert sent_json(sent) == {
        "model": "command-a-03-2025",
        "texts": ["hello", "world"],
        "input_type": "search_document",
        "embedding_types": ["float"],
        "output_dimension": 256,
    }


async def test_the_caller_may_name_the_input_type(harness: CohereHarness) -> None:
    harness.embeddings(wire="float")
    request = EmbeddingRequest(model="embed-x", inputs=("hello",), extra_body={"input_type": "search_query"})

    await harness.provider.embed(request, harness.deployment)

    assert sent_json(harness.upstream.sent[0])["input_type"] == "search_query"


async def test_token_array_inputs_are_refused_before_anything_is_sent(harness: CohereHarness) -> None:
    with pytest.raises(UnsupportedParameterError):
        await harness.provider.embed(EmbeddingRequest(model="e", inputs=((1, 2),)), harness.deployment)

    assert harness.upstream.sent == []


async def test_without_a_key_no_authorization_is_sent() -> None:
    sent = await sent_chat(CohereHarness(credentials=Credentials()))

    assert "authorization" not in sent[0].headers


async def test_top_k_is_coheres_k_and_the_deployments_presets_apply_unless_the_caller_overrides() -> None:
    harness = CohereHarness(extra_params={"top_k": 20, "extra_body": {"safety_mode": "CONTEXTUAL"}})

    preset = await sent_body(harness)
    overridden = await sent_body(harness, extra_body={"top_k": 5, "safety_mode": "STRICT"})
    await harness.close()

    assert (preset["k"], preset["safety_mode"]) == (20, "CONTEXTUAL")
    assert (overridden["k"], overridden["safety_mode"]) == (5, "STRICT")
    assert "top_k" not in preset and "top_k" not in overridden


# What a request that arrived in Anthropic's format carries.

NOTE = "data:text/plain;base64," + base64.b64encode(b"The lease runs for two years.").decode()
PDF = "data:application/pdf;base64,JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="


async def test_a_thinking_budget_is_coheres_token_budget_and_top_k_its_k(harness: CohereHarness) -> None:
    harness_preset = CohereHarness(extra_params={"top_k": 20})

    body = await sent_body(harness, params=SamplingParams(thinking_budget=2000, top_k=40))
    preset = await sent_body(harness_preset, params=SamplingParams(top_k=40))
    await harness_preset.close()

    assert body["thinking"] == {"type": "enabled", "token_budget": 2000}
    assert body["k"] == 40
    assert preset["k"] == 40  # the request's own over the configured one


async def test_a_plain_text_document_is_read_where_it_stands(harness: CohereHarness) -> None:
    content = (TextPart("Summarise this."), DocumentPart(NOTE, title="Lease"))

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Summarise this."},
                {"type": "text", "text": "The lease runs for two years."},
            ],
        }
    ]


@pytest.mark.parametrize("url", [PDF, "https://example.com/lease.pdf"])
def test_a_document_other_than_plain_text_is_declared_unsupported(harness: CohereHarness, url: str) -> None:
    request = chat_request(messages=(Message(Role.USER, (TextPart("Read it."), DocumentPart(url))),))

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == ["documents"]


async def test_a_dropped_document_is_left_out_and_earlier_thinking_stays_behind(
    harness: CohereHarness,
) -> None:
    messages = (
        Message(Role.USER, (TextPart("Read it."), DocumentPart(PDF))),
        Message(Role.ASSISTANT, "Read.", thinking_blocks=(ThinkingBlock("Skim it.", signature="EqQB"),)),
        Message(Role.USER, "And?"),
    )

    body = await sent_body(harness, messages=messages)

    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Read it."}]},
        {"role": "assistant", "content": "Read."},
        {"role": "user", "content": "And?"},
    ]


async def test_a_request_native_to_another_format_is_sent_as_its_translation(harness: CohereHarness) -> None:
    native = NativeRequest(
        "anthropic", {"model": "claude", "max_tokens": 64, "messages": []}, {"anthropic-beta": "x"}
    )

    plain = await sent_body(harness, params=SamplingParams(max_tokens=64))
    translated = await sent_body(harness, params=SamplingParams(max_tokens=64), native=native)

    assert translated == plain
    assert "anthropic-beta" not in harness.upstream.sent[-1].headers
