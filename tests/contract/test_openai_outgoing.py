"""What the OpenAI adapter puts on the wire: URL, headers, body and per-call timeouts, exactly."""

from __future__ import annotations

import asyncio
import base64
import dataclasses

import httpx
import pytest

from domain.completions import NativeRequest, ReasoningEffort, SamplingParams
from domain.deployments import Capabilities, Credentials, Limits
from domain.embeddings import EmbeddingRequest, EncodingFormat
from domain.errors import APIConnectionError, BadRequestError, TimeoutError
from domain.messages import (
    DocumentPart,
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
)
from tests.contract.harnesses.base import WEATHER_TOOL, chat_request
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_body, sent_chat, sent_json

harness = harness_fixture(OpenAIHarness)


async def test_a_chat_is_posted_to_the_deployments_base_with_its_key_and_organization(
    harness: OpenAIHarness,
) -> None:
    script = harness.text_reply(stream=False)

    await harness.provider.complete(script.request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert sent.method == "POST"
    assert str(sent.url) == "https://api.openai.example/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-123"
    assert sent.headers["openai-organization"] == "org-test"
    assert sent.headers["content-type"] == "application/json"


async def test_the_chat_body_holds_every_set_field_in_openai_form_and_nothing_of_the_gateway(
    harness: OpenAIHarness,
) -> None:
    harness.text_reply(stream=False)
    messages = (
        Message(Role.DEVELOPER, "Answer tersely."),
        Message(
            Role.USER,
            (TextPart("What is here?"), ImagePart("https://example.com/a.png", ImageDetail.LOW)),
            name="ada",
        ),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("call_1", "get_current_weather", '{"a":1}'),)),
        Message(Role.TOOL, '{"temp": 21}', tool_call_id="call_1"),
    )
    request = chat_request(
        messages=messages,
        params=SamplingParams(
            temperature=0.2,
            max_tokens=64,
            stop=("END",),
            seed=7,
            logit_bias={"50256": -100.0},
            user="user-1",
            reasoning_effort=ReasoningEffort.LOW,
        ),
        tools=(WEATHER_TOOL,),
        tool_choice=NamedToolChoice("get_current_weather"),
        response_format=ResponseFormat(
            ResponseFormatType.JSON_SCHEMA, name="weather", schema={"type": "object"}, strict=True
        ),
        metadata={"trace": "t-1"},
        controls={"num_retries": 3, "cache": {"no-cache": True}},
        extra_body={"store": False, "service_tier": "flex"},
    )

    await harness.provider.complete(request, harness.deployment)

    assert sent_json(harness.upstream.sent[0]) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "developer", "content": "Answer tersely."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is here?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                ],
                "name": "ada",
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_current_weather", "arguments": '{"a":1}'},
                    }
                ],
            },
            {"role": "tool", "content": '{"temp": 21}', "tool_call_id": "call_1"},
        ],
        "temperature": 0.2,
        "max_tokens": 64,
        "seed": 7,
        "user": "user-1",
        "stop": ["END"],
        "logit_bias": {"50256": -100.0},
        "reasoning_effort": "low",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_current_weather",
                    "description": WEATHER_TOOL.description,
                    "parameters": WEATHER_TOOL.parameters,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_current_weather"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "weather", "schema": {"type": "object"}, "strict": True},
        },
        "store": False,
        "service_tier": "flex",
    }


async def test_a_stream_always_asks_the_upstream_for_usage(harness: OpenAIHarness) -> None:
    harness.text_reply(stream=True)

    stream = await harness.provider.stream(chat_request(stream=True, include_usage=False), harness.deployment)
    await stream.aclose()

    body = sent_json(harness.upstream.sent[0])
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_without_a_base_or_a_key_it_calls_openai_itself_unauthenticated() -> None:
    (sent,) = await sent_chat(OpenAIHarness(api_base=None, credentials=Credentials()))

    assert str(sent.url) == "https://api.openai.com/v1/chat/completions"
    assert "authorization" not in sent.headers
    assert "openai-organization" not in sent.headers


async def test_a_trailing_slash_on_the_base_is_not_doubled() -> None:
    sent = await sent_chat(OpenAIHarness(api_base="http://127.0.0.1:8000/v1/"))

    assert str(sent[0].url) == "http://127.0.0.1:8000/v1/chat/completions"


async def test_embeddings_are_asked_for_in_base64_whatever_the_client_wants(harness: OpenAIHarness) -> None:
    harness.embeddings(wire="base64")
    request = EmbeddingRequest(
        model="embed-x", inputs=("hello",), encoding_format=EncodingFormat.FLOAT, dimensions=8, user="u"
    )

    await harness.provider.embed(request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/embeddings"
    assert sent_json(sent) == {
        "model": "gpt-4o-mini",
        "input": ["hello"],
        "encoding_format": "base64",
        "dimensions": 8,
        "user": "u",
    }


async def test_token_array_inputs_are_sent_as_arrays(harness: OpenAIHarness) -> None:
    harness.embeddings(wire="float")

    await harness.provider.embed(EmbeddingRequest(model="e", inputs=((1, 2), (3,))), harness.deployment)

    assert sent_json(harness.upstream.sent[0])["input"] == [[1, 2], [3]]


async def test_a_reasoning_model_gets_max_tokens_as_max_completion_tokens() -> None:
    sent = await sent_chat(
        OpenAIHarness(upstream_model="o3-mini"), chat_request(params=SamplingParams(max_tokens=50))
    )

    body = sent_json(sent[0])
    assert body["max_completion_tokens"] == 50
    assert "max_tokens" not in body


async def test_transport_failures_keep_the_httpx_exception_as_their_cause(harness: OpenAIHarness) -> None:
    request = harness.failure("connection_refused", stream=False)

    with pytest.raises(APIConnectionError) as raised:
        await harness.provider.complete(request, harness.deployment)

    assert isinstance(raised.value.__cause__, httpx.ConnectError)


async def test_a_call_slower_than_the_deployments_timeout_is_cut_off() -> None:
    harness = OpenAIHarness(limits=Limits(timeout=0.05))

    async def slow(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200)

    harness.upstream.answer = slow  # type: ignore[assignment]

    with pytest.raises(TimeoutError):
        await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()


async def test_a_request_json_cannot_carry_is_refused_before_anything_is_sent(harness: OpenAIHarness) -> None:
    request = chat_request(params=SamplingParams(seed=2**70))

    with pytest.raises(BadRequestError):
        await harness.provider.complete(request, harness.deployment)

    assert harness.upstream.sent == []


async def test_the_method_called_decides_whether_the_upstream_streams(harness: OpenAIHarness) -> None:
    harness.text_reply(stream=False)
    await harness.provider.complete(chat_request(stream=True), harness.deployment)
    harness.text_reply(stream=True)
    await (await harness.provider.stream(chat_request(stream=False), harness.deployment)).aclose()

    whole, streamed = (sent_json(sent) for sent in harness.upstream.sent)
    assert "stream" not in whole and "stream_options" not in whole
    assert streamed["stream"] is True


# What a request that arrived in Anthropic's format carries.

PDF = "data:application/pdf;base64,JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="
NOTE = "data:text/plain;base64," + base64.b64encode(b"The lease runs for two years.").decode()


async def test_a_pdf_goes_as_a_file_part_and_a_plain_text_document_as_its_text(
    harness: OpenAIHarness,
) -> None:
    content = (TextPart("Compare these."), DocumentPart(PDF, title="lease.pdf"), DocumentPart(NOTE))

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare these."},
                {"type": "file", "file": {"filename": "lease.pdf", "file_data": PDF}},
                {"type": "text", "text": "The lease runs for two years."},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1024, "low"), (4000, "low"), (4096, "medium"), (10000, "medium"), (16384, "high"), (31999, "high")],
)
async def test_a_thinking_budget_goes_to_a_reasoning_model_as_the_effort_it_stands_for(
    budget: int, effort: str
) -> None:
    (sent,) = await sent_chat(
        OpenAIHarness(upstream_model="o4-mini"), chat_request(params=SamplingParams(thinking_budget=budget))
    )

    assert sent_json(sent)["reasoning_effort"] == effort


async def test_an_explicit_reasoning_effort_wins_over_a_thinking_budget() -> None:
    params = SamplingParams(reasoning_effort=ReasoningEffort.MINIMAL, thinking_budget=31999)

    (sent,) = await sent_chat(OpenAIHarness(upstream_model="gpt-5"), chat_request(params=params))

    assert sent_json(sent)["reasoning_effort"] == "minimal"


def test_openai_refuses_top_k_a_budget_for_a_model_that_does_not_reason_and_a_document_by_url(
    harness: OpenAIHarness,
) -> None:
    document = DocumentPart("https://example.com/lease.pdf")
    request = chat_request(
        messages=(Message(Role.USER, (TextPart("Read it."), document)),),
        params=SamplingParams(top_k=40, thinking_budget=2048),
    )

    refused = harness.provider.unsupported_params(request, harness.deployment)

    assert list(refused) == ["top_k", "thinking_budget", "documents"]


def test_a_model_the_config_declares_reasoning_takes_a_thinking_budget(harness: OpenAIHarness) -> None:
    deployment = dataclasses.replace(harness.deployment, capabilities=Capabilities(reasoning=True))
    request = chat_request(params=SamplingParams(thinking_budget=2048))

    assert list(harness.provider.unsupported_params(request, deployment)) == []


def test_documents_as_data_and_a_budget_for_a_reasoning_model_are_not_refused() -> None:
    harness = OpenAIHarness(upstream_model="o3")
    request = chat_request(
        messages=(Message(Role.USER, (DocumentPart(PDF), DocumentPart(NOTE))),),
        params=SamplingParams(thinking_budget=8000),
    )

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == []


async def test_a_dropped_document_by_url_is_left_out_of_the_message(harness: OpenAIHarness) -> None:
    content = (TextPart("Read it."), DocumentPart("https://example.com/lease.pdf"))

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Read it."}]}]


async def test_earlier_thinking_stays_behind_and_a_failed_tool_result_goes_as_written(
    harness: OpenAIHarness,
) -> None:
    messages = (
        Message(Role.USER, "Weather in Paris?"),
        Message(
            Role.ASSISTANT,
            None,
            tool_calls=(ToolCall("toolu_01", "get_current_weather", '{"location": "Paris"}'),),
            thinking_blocks=(
                ThinkingBlock("Call the tool.", signature="EqQBCkYI"),
                ThinkingBlock(redacted="Ep8C"),
            ),
        ),
        Message(Role.TOOL, "Error: the weather service is down", tool_call_id="toolu_01", tool_error=True),
    )

    body = await sent_body(harness, messages=messages)

    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "toolu_01",
                    "type": "function",
                    "function": {"name": "get_current_weather", "arguments": '{"location": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "content": "Error: the weather service is down", "tool_call_id": "toolu_01"},
    ]


async def test_a_request_native_to_another_format_is_sent_as_its_translation(harness: OpenAIHarness) -> None:
    native = NativeRequest(
        "anthropic", {"model": "claude", "max_tokens": 64, "messages": []}, {"anthropic-beta": "x"}
    )

    plain = await sent_body(harness, params=SamplingParams(max_tokens=64))
    translated = await sent_body(harness, params=SamplingParams(max_tokens=64), native=native)

    assert translated == plain
    assert "anthropic-beta" not in harness.upstream.sent[-1].headers
