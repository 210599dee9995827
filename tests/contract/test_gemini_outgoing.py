"""What the Gemini and Vertex AI adapters put on the wire: URL, headers, body and per-call timeouts."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from typing import Any

import pytest

from adapters.llm.gemini.mapping import call_id
from domain.completions import NativeRequest, ReasoningEffort, SamplingParams
from domain.deployments import Credentials, Secret
from domain.embeddings import EmbeddingRequest
from domain.errors import AuthenticationError, RateLimitError
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
    ToolChoice,
    ToolChoiceMode,
)
from tests.contract.harnesses.base import WEATHER_TOOL, chat_request
from tests.contract.harnesses.gemini import USER_CREDENTIALS, GeminiHarness, VertexHarness
from tests.contract.outgoing import harness_fixture, sent_body, sent_json

SIGNATURE = (
    "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbdMdfpmNpgBwplAXLI2nyA/pIFcnZw"
    "Fm+7WFmLyMd8R4DXwsjqaeAAfCKo5G1xIkbAlJp8Vew="
)


harness = harness_fixture(GeminiHarness)


vertex = harness_fixture(VertexHarness, "vertex")


async def test_a_chat_goes_to_generate_content_with_the_key_in_a_header_never_in_the_url(
    harness: GeminiHarness,
) -> None:
    await sent_body(harness)

    (sent,) = harness.upstream.sent
    assert sent.method == "POST"
    assert str(sent.url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert sent.headers["x-goog-api-key"] == "AIzaSy-test-key"
    assert sent.headers["content-type"] == "application/json"
    assert "key" not in sent.url.params and "authorization" not in sent.headers


async def test_a_stream_goes_to_stream_generate_content_as_server_sent_events(harness: GeminiHarness) -> None:
    harness.text_reply(stream=True)

    await (await harness.provider.stream(chat_request(stream=True), harness.deployment)).aclose()

    (sent,) = harness.upstream.sent
    assert str(sent.url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert sent_json(sent) == {
        "contents": [{"role": "user", "parts": [{"text": "Hello!"}]}],
        "systemInstruction": {"parts": [{"text": "You are a helpful assistant."}]},
    }


@pytest.mark.parametrize(
    "api_base",
    [
        "https://generativelanguage.googleapis.com/v1beta",
        "https://generativelanguage.googleapis.com/v1beta/",
        "https://generativelanguage.googleapis.com/",
    ],
)
async def test_a_base_with_or_without_the_version_reaches_the_same_url(api_base: str) -> None:
    harness = GeminiHarness(api_base=api_base, upstream_model="models/gemini-2.5-flash")

    await sent_body(harness)
    await harness.close()

    assert str(harness.upstream.sent[0].url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )


async def test_system_and_developer_messages_become_the_system_instruction_and_turns_alternate(
    harness: GeminiHarness,
) -> None:
    messages = (
        Message(Role.SYSTEM, "Be brief."),
        Message(Role.USER, "Hi"),
        Message(Role.DEVELOPER, "Answer in French."),
        Message(Role.USER, "How are you?"),
        Message(Role.ASSISTANT, "Bien."),
        Message(Role.ASSISTANT, ""),
        Message(Role.USER, "Merci"),
    )

    body = await sent_body(harness, messages=messages)

    assert body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}, {"text": "How are you?"}]},
            {"role": "model", "parts": [{"text": "Bien."}]},
            {"role": "user", "parts": [{"text": "Merci"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
    }


async def test_a_tool_round_trip_sends_function_calls_and_responses_by_name_with_their_signature(
    harness: GeminiHarness,
) -> None:
    signed = call_id("r1:0:0:get_current_weather", SIGNATURE)
    messages = (
        Message(Role.USER, "Weather in Paris and Rome?"),
        Message(
            Role.ASSISTANT,
            "Let me look.",
            tool_calls=(
                ToolCall(signed, "get_current_weather", '{"location": "Paris"}'),
                ToolCall("call_openai_2", "get_current_weather", '{"location": "Rome"}'),
            ),
        ),
        Message(Role.TOOL, '{"temperature": 21, "unit": "celsius"}', tool_call_id=signed),
        Message(Role.TOOL, "sunny", tool_call_id="call_openai_2"),
        Message(Role.USER, "Thanks!"),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))

    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me look."},
                {
                    "functionCall": {"name": "get_current_weather", "args": {"location": "Paris"}},
                    "thoughtSignature": SIGNATURE,
                },
                {"functionCall": {"name": "get_current_weather", "args": {"location": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_current_weather",
                        "response": {"temperature": 21, "unit": "celsius"},
                    }
                },
                {"functionResponse": {"name": "get_current_weather", "response": {"output": "sunny"}}},
                {"text": "Thanks!"},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_current_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {
                            "location": {
                                "type": "STRING",
                                "description": "The city and state, e.g. San Francisco, CA",
                            },
                            "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
                        },
                        "required": ["location"],
                    },
                }
            ]
        }
    ]


async def test_a_gemini_3_history_call_without_a_signature_gets_googles_stand_in() -> None:
    harness = GeminiHarness(upstream_model="gemini-3-pro-preview")
    messages = (
        Message(Role.USER, "Weather?"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("call_1", "get_current_weather", "{}"),)),
        Message(Role.TOOL, "sunny", tool_call_id="call_1"),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))
    await harness.close()

    (part,) = body["contents"][1]["parts"]
    assert part["thoughtSignature"] == "skip_thought_signature_validator"


async def test_images_go_inline_from_data_urls_and_by_reference_from_https_and_gs(
    harness: GeminiHarness,
) -> None:
    content = (
        TextPart("What is in these?"),
        ImagePart("data:image/png;base64,iVBORw0KGgo="),
        ImagePart("https://example.com/photos/cat.webp?size=large"),
        ImagePart("gs://bucket/scans/page.pdf"),
        ImagePart("https://example.com/image"),
    )

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["contents"][0]["parts"] == [
        {"text": "What is in these?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/photos/cat.webp?size=large"}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://bucket/scans/page.pdf"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/image"}},
    ]


async def test_a_json_schema_response_format_sends_the_reduced_schema(harness: GeminiHarness) -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "city": {"type": "string", "format": "hostname"},
            "when": {"type": "string", "format": "date-time"},
            "forecast": {"type": "array", "items": {"$ref": "#/$defs/Day"}},
            "note": {"type": ["string", "null"]},
        },
        "required": ["city", "forecast"],
        "additionalProperties": False,
        "$defs": {
            "Day": {
                "type": "object",
                "properties": {"high": {"type": "number"}, "sky": {"enum": ["sun", "rain"]}},
                "required": ["high"],
                "additionalProperties": False,
            }
        },
    }
    response_format = ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, name="weather", schema=schema, strict=True
    )

    body = await sent_body(harness, response_format=response_format)

    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "properties": {
                "city": {"type": "STRING"},
                "when": {"type": "STRING", "format": "date-time"},
                "forecast": {
                    "type": "ARRAY",
                    "items": {
                        "type": "OBJECT",
                        "properties": {
                            "high": {"type": "NUMBER"},
                            "sky": {"type": "STRING", "enum": ["sun", "rain"]},
                        },
                        "required": ["high"],
                        "propertyOrdering": ["high", "sky"],
                    },
                },
                "note": {"type": "STRING", "nullable": True},
            },
            "required": ["city", "forecast"],
            "propertyOrdering": ["city", "when", "forecast", "note"],
        },
    }


async def test_a_json_object_response_format_asks_for_json(harness: GeminiHarness) -> None:
    body = await sent_body(harness, response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT))

    assert body["generationConfig"] == {"responseMimeType": "application/json"}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        (ToolChoiceMode.AUTO, {"mode": "AUTO"}),
        (ToolChoiceMode.NONE, {"mode": "NONE"}),
        (ToolChoiceMode.REQUIRED, {"mode": "ANY"}),
        (
            NamedToolChoice("get_current_weather"),
            {"mode": "ANY", "allowedFunctionNames": ["get_current_weather"]},
        ),
    ],
)
async def test_each_tool_choice_becomes_a_function_calling_mode(
    harness: GeminiHarness, choice: ToolChoice, config: dict[str, Any]
) -> None:
    body = await sent_body(harness, tools=(WEATHER_TOOL,), tool_choice=choice)

    assert body["toolConfig"] == {"functionCallingConfig": config}


async def test_sampling_parameters_go_to_the_generation_config_by_their_gemini_names(
    harness: GeminiHarness,
) -> None:
    params = SamplingParams(
        temperature=0.3,
        top_p=0.9,
        max_completion_tokens=256,
        stop=("END", "STOP"),
        n=2,
        seed=42,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        logprobs=True,
        top_logprobs=3,
    )

    body = await sent_body(
        harness,
        params=params,
        extra_body={"top_k": 40, "safety_settings": [{"category": "X", "threshold": "Y"}]},
    )

    assert body["generationConfig"] == {
        "temperature": 0.3,
        "topP": 0.9,
        "maxOutputTokens": 256,
        "stopSequences": ["END", "STOP"],
        "candidateCount": 2,
        "seed": 42,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
        "responseLogprobs": True,
        "logprobs": 3,
        "topK": 40,
    }
    assert body["safetySettings"] == [{"category": "X", "threshold": "Y"}]


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("gemini-2.5-flash", ReasoningEffort.LOW, {"thinkingBudget": 1024, "includeThoughts": True}),
        ("gemini-2.5-pro", ReasoningEffort.HIGH, {"thinkingBudget": 24576, "includeThoughts": True}),
        ("gemini-2.5-flash", ReasoningEffort.NONE, {"thinkingBudget": 0}),
        ("gemini-3-pro-preview", ReasoningEffort.LOW, {"thinkingLevel": "LOW", "includeThoughts": True}),
        ("gemini-3.1-flash", ReasoningEffort.MINIMAL, {"thinkingLevel": "MINIMAL", "includeThoughts": True}),
    ],
)
async def test_reasoning_effort_becomes_a_thinking_budget_or_level_by_model(
    model: str, effort: ReasoningEffort, thinking: dict[str, Any]
) -> None:
    harness = GeminiHarness(upstream_model=model)

    body = await sent_body(harness, params=SamplingParams(reasoning_effort=effort))
    await harness.close()

    assert body["generationConfig"] == {"thinkingConfig": thinking}


async def test_what_gemini_cannot_honour_is_named_and_the_rest_is_not(harness: GeminiHarness) -> None:
    request = chat_request(
        params=SamplingParams(logit_bias={"1": 5.0}, parallel_tool_calls=False, user="u-1", seed=1, n=2),
        extra_body={"top_k": 5, "store": True, "labels": {"team": "a"}},
    )

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == [
        "logit_bias",
        "parallel_tool_calls",
        "user",
        "store",
        "labels",
    ]


async def test_one_text_is_embedded_with_embed_content(harness: GeminiHarness) -> None:
    harness.upstream.json(200, "embed_content.json")
    request = EmbeddingRequest(
        model="e", inputs=("hello",), dimensions=8, extra_body={"task_type": "RETRIEVAL_QUERY"}
    )

    response = await harness.provider.embed(request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url).endswith("/v1beta/models/gemini-2.5-flash:embedContent")
    assert sent_json(sent) == {
        "content": {"parts": [{"text": "hello"}]},
        "outputDimensionality": 8,
        "taskType": "RETRIEVAL_QUERY",
    }
    assert len(response.data) == 1 and len(response.data[0].vector) == 8


async def test_several_texts_are_embedded_in_one_batch_naming_the_model(harness: GeminiHarness) -> None:
    harness.upstream.json(200, "batch_embed_contents.json")

    await harness.provider.embed(EmbeddingRequest(model="e", inputs=("a", "b")), harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url).endswith("/v1beta/models/gemini-2.5-flash:batchEmbedContents")
    assert sent_json(sent) == {
        "requests": [
            {"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "a"}]}},
            {"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "b"}]}},
        ]
    }


async def test_vertex_calls_its_regional_endpoint_with_a_bearer_token_from_the_credentials(
    vertex: VertexHarness,
) -> None:
    await sent_body(vertex)

    (sent,) = vertex.upstream.sent
    assert str(sent.url) == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/switchyard-test/locations/us-central1"
        "/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert (
        sent.headers["authorization"] == "Bearer ya29.c.b0AXv0zTOQvL1pW2ZlA7Gz1kIq0sFakeAccessTokenForTests"
    )
    assert "x-goog-api-key" not in sent.headers
    (token,) = vertex.token_requests
    assert str(token.url) == "https://oauth2.googleapis.com/token"
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("location", "api_base", "prefix"),
    [
        ("global", None, "https://aiplatform.googleapis.com/v1/projects/p/locations/global"),
        ("eu", None, "https://aiplatform.eu.rep.googleapis.com/v1/projects/p/locations/eu"),
        (
            "europe-west4",
            None,
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4",
        ),
        ("us-east5", "http://127.0.0.1:9000", "http://127.0.0.1:9000/v1/projects/p/locations/us-east5"),
    ],
)
async def test_vertex_hosts_follow_the_location_unless_a_base_replaces_them(
    location: str, api_base: str | None, prefix: str
) -> None:
    extra = {"vertex_project": "p", "vertex_location": location, "vertex_credentials": USER_CREDENTIALS}
    harness = VertexHarness(api_base=api_base, credentials=Credentials(extra=extra))
    harness.text_reply(stream=True)

    await (await harness.provider.stream(chat_request(stream=True), harness.deployment)).aclose()
    await harness.close()

    assert str(harness.upstream.sent[0].url) == (
        f"{prefix}/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


async def test_vertex_takes_the_project_of_the_credentials_when_the_deployment_names_none() -> None:
    harness = VertexHarness(credentials=Credentials(extra={"vertex_credentials": USER_CREDENTIALS}))

    await sent_body(harness)
    await harness.close()

    assert "/projects/switchyard-quota/locations/us-central1/" in str(harness.upstream.sent[0].url)


async def test_vertex_fetches_one_token_for_many_concurrent_calls_and_reuses_it(
    vertex: VertexHarness,
) -> None:
    vertex.text_reply(stream=False)

    await asyncio.gather(*(vertex.provider.complete(chat_request(), vertex.deployment) for _ in range(5)))
    await vertex.provider.complete(chat_request(), vertex.deployment)

    assert len(vertex.upstream.sent) == 6
    assert len(vertex.token_requests) == 1


async def test_vertex_drops_a_token_the_upstream_refused(vertex: VertexHarness) -> None:
    vertex.failure("unauthorized", stream=False)
    with pytest.raises(AuthenticationError, match="invalid authentication credentials"):
        await vertex.provider.complete(chat_request(), vertex.deployment)
    vertex.text_reply(stream=False)

    await vertex.provider.complete(chat_request(), vertex.deployment)

    assert len(vertex.token_requests) == 2


async def test_vertex_embeds_text_embedding_models_with_predict(vertex: VertexHarness) -> None:
    vertex.upstream.json(200, "vertex_predict.json")
    deployment = dataclasses.replace(vertex.deployment, upstream_model="text-embedding-005")
    request = EmbeddingRequest(
        model="e", inputs=("a", "b"), dimensions=8, extra_body={"task_type": "RETRIEVAL_DOCUMENT"}
    )

    response = await vertex.provider.embed(request, deployment)

    (sent,) = vertex.upstream.sent
    assert str(sent.url).endswith("/publishers/google/models/text-embedding-005:predict")
    assert sent_json(sent) == {
        "instances": [
            {"content": "a", "task_type": "RETRIEVAL_DOCUMENT"},
            {"content": "b", "task_type": "RETRIEVAL_DOCUMENT"},
        ],
        "parameters": {"outputDimensionality": 8},
    }
    assert response.usage.prompt_tokens == 16


async def test_a_gemini_key_is_never_sent_to_vertex_and_vertex_needs_no_key() -> None:
    extra = {"vertex_project": "p", "vertex_credentials": USER_CREDENTIALS}
    harness = VertexHarness(credentials=Credentials(api_key=Secret("AIza-unused"), extra=extra))

    await sent_body(harness)
    await harness.close()

    assert "x-goog-api-key" not in harness.upstream.sent[0].headers


async def test_a_vertex_429_wrapped_in_a_list_is_a_rate_limit(vertex: VertexHarness) -> None:
    vertex.upstream.json(429, "errors/vertex_resource_exhausted.json")

    with pytest.raises(RateLimitError, match="Resource exhausted") as raised:
        await vertex.provider.complete(chat_request(), vertex.deployment)

    assert raised.value.retry_after is None


async def test_gemini_fields_configured_on_the_deployment_apply_unless_the_request_sets_them() -> None:
    settings = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    harness = GeminiHarness(extra_params={"safety_settings": settings, "top_k": 3, "temperature": 0.1})

    body = await sent_body(harness, extra_body={"top_k": 7})
    await harness.close()

    assert body["safetySettings"] == settings
    assert body["generationConfig"] == {"topK": 7}


# What a request that arrived in Anthropic's format carries.

PDF = "data:application/pdf;base64,JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="
NOTE = "data:text/plain;base64," + base64.b64encode(b"The lease runs for two years.").decode()


async def test_documents_go_as_inline_pdf_data_file_data_by_url_and_plain_text(
    harness: GeminiHarness,
) -> None:
    content = (
        TextPart("Compare these."),
        DocumentPart(PDF, title="Lease"),
        DocumentPart("https://example.com/annex.pdf"),
        DocumentPart(NOTE),
    )

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Compare these."},
                {"inlineData": {"mimeType": "application/pdf", "data": PDF.split(",", 1)[1]}},
                {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/annex.pdf"}},
                {"text": "The lease runs for two years."},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("model", "budget", "thinking"),
    [
        ("gemini-2.5-flash", 2048, {"thinkingBudget": 2048, "includeThoughts": True}),
        ("gemini-3-pro-preview", 1024, {"thinkingLevel": "LOW", "includeThoughts": True}),
        ("gemini-3-pro-preview", 31999, {"thinkingLevel": "HIGH", "includeThoughts": True}),
    ],
)
async def test_a_thinking_budget_is_gemini_25s_budget_and_gemini_3s_level(
    model: str, budget: int, thinking: dict[str, Any]
) -> None:
    harness = GeminiHarness(upstream_model=model)

    body = await sent_body(harness, params=SamplingParams(thinking_budget=budget))
    await harness.close()

    assert body["generationConfig"] == {"thinkingConfig": thinking}


async def test_top_k_is_top_k_of_the_generation_config_over_a_configured_default() -> None:
    harness = GeminiHarness(extra_params={"top_k": 64})

    asked = await sent_body(harness, params=SamplingParams(top_k=40))
    configured = await sent_body(harness)
    await harness.close()

    assert asked["generationConfig"] == {"topK": 40}
    assert configured["generationConfig"] == {"topK": 64}


async def test_earlier_thinking_stays_behind_and_a_failed_call_answers_with_an_error(
    harness: GeminiHarness,
) -> None:
    messages = (
        Message(Role.USER, "Weather in Paris?"),
        Message(
            Role.ASSISTANT,
            None,
            tool_calls=(ToolCall("toolu_01", "get_current_weather", '{"location": "Paris"}'),),
            thinking_blocks=(ThinkingBlock("Call the tool.", signature="EqQBCkYI"),),
        ),
        Message(Role.TOOL, "the weather service is down", tool_call_id="toolu_01", tool_error=True),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))

    assert body["contents"][1:] == [
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "get_current_weather", "args": {"location": "Paris"}}}],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_current_weather",
                        "response": {"error": "the weather service is down"},
                    }
                }
            ],
        },
    ]


async def test_what_an_anthropic_request_carries_gemini_honours_whole(harness: GeminiHarness) -> None:
    request = chat_request(
        messages=(Message(Role.USER, (DocumentPart("https://example.com/a.pdf"), DocumentPart(NOTE))),),
        params=SamplingParams(top_k=5, thinking_budget=1024),
    )

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == []


async def test_a_request_native_to_another_format_is_sent_as_its_translation(harness: GeminiHarness) -> None:
    native = NativeRequest(
        "anthropic", {"model": "claude", "max_tokens": 64, "messages": []}, {"anthropic-beta": "x"}
    )

    plain = await sent_body(harness, params=SamplingParams(max_tokens=64))
    translated = await sent_body(harness, params=SamplingParams(max_tokens=64), native=native)

    assert translated == plain
    assert "anthropic-beta" not in harness.upstream.sent[-1].headers
