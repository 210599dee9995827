"""What the Bedrock adapter puts on the wire: URL, headers, signature and body, exactly."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import re
from typing import Any
from unittest import mock

import httpx
import orjson
import pytest

from domain.completions import NativeRequest, ReasoningEffort, SamplingParams
from domain.deployments import Credentials, Deployment, Secret
from domain.embeddings import EmbeddingRequest
from domain.errors import UnsupportedParameterError
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
from tests.contract.harnesses.bedrock import ACCESS_KEY, CLAUDE, SECRET_KEY, BedrockHarness
from tests.contract.outgoing import harness_fixture, sent_body, sent_json

ENDPOINT = "https://bedrock-runtime.us-east-1.amazonaws.com"
NAME = WEATHER_TOOL.name
SIGNATURE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/(\d{8})/us-east-1/bedrock/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$"
)
WEATHER_SPEC = {
    "toolSpec": {
        "name": "get_current_weather",
        "inputSchema": {"json": WEATHER_TOOL.parameters},
        "description": WEATHER_TOOL.description,
    }
}


harness = harness_fixture(BedrockHarness)


async def test_a_chat_is_posted_to_the_regions_converse_endpoint_signed_with_sigv4(
    harness: BedrockHarness,
) -> None:
    script = harness.text_reply(stream=False)

    await harness.provider.complete(script.request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert sent.method == "POST"
    assert str(sent.url) == f"{ENDPOINT}/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["host"] == "bedrock-runtime.us-east-1.amazonaws.com"
    assert re.fullmatch(r"\d{8}T\d{6}Z", sent.headers["x-amz-date"])
    found = SIGNATURE.match(sent.headers["authorization"])
    assert found is not None
    assert found.group(1) == sent.headers["x-amz-date"][:8]
    assert found.group(2) == "content-type;host;x-amz-date"
    assert "x-amz-security-token" not in sent.headers


async def test_the_signature_is_the_one_botocore_computes_for_the_same_request(
    harness: BedrockHarness,
) -> None:
    pytest.importorskip("botocore")
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    token = "FwoGZXIvYXdzEJr//////////wEaDM"
    extra = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY, "aws_session_token": token}
    harness.deployment = _with(
        harness,
        upstream_model="arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude",
        credentials=Credentials(extra=extra),
    )
    script = harness.text_reply(stream=False)
    await harness.provider.complete(script.request, harness.deployment)
    (sent,) = harness.upstream.sent

    timestamp = datetime.datetime.strptime(sent.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    expected = AWSRequest(
        method="POST",
        url=str(sent.url),
        data=sent.content,
        headers={"Content-Type": "application/json", "Host": sent.headers["host"]},
    )
    signer = botocore.auth.SigV4Auth(BotoCredentials(ACCESS_KEY, SECRET_KEY, token), "bedrock", "us-east-1")
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=timestamp):
        signer.add_auth(expected)

    assert sent.headers["authorization"] == expected.headers["Authorization"]
    assert sent.headers["x-amz-security-token"] == token
    assert "x-amz-security-token" in sent.headers["authorization"]


async def test_an_api_key_is_sent_as_a_bearer_token_and_nothing_is_signed(harness: BedrockHarness) -> None:
    harness.deployment = _with(harness, credentials=Credentials(api_key=Secret("bedrock-api-key-123")))
    script = harness.text_reply(stream=False)

    await harness.provider.complete(script.request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert sent.headers["authorization"] == "Bearer bedrock-api-key-123"
    assert "x-amz-date" not in sent.headers
    # No region was named: LiteLLM's default.
    assert sent.url.host == "bedrock-runtime.us-west-2.amazonaws.com"


async def test_the_bedrock_bearer_token_from_the_environment_wins_over_keys(harness: BedrockHarness) -> None:
    from adapters.llm.bedrock import BedrockProvider

    harness.provider = BedrockProvider(harness.client, environ={"AWS_BEARER_TOKEN_BEDROCK": "env-token"})
    script = harness.text_reply(stream=False)

    await harness.provider.complete(script.request, harness.deployment)

    assert harness.upstream.sent[0].headers["authorization"] == "Bearer env-token"


async def test_an_arn_model_id_is_escaped_into_the_path_and_names_the_region(harness: BedrockHarness) -> None:
    arn = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3"
    extra = {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY}
    harness.deployment = _with(harness, upstream_model=arn, credentials=Credentials(extra=extra))
    script = harness.text_reply(stream=False)

    await harness.provider.complete(script.request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert sent.url.raw_path == (
        b"/model/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile%2Fa1b2c3/converse"
    )
    assert sent.url.host == "bedrock-runtime.eu-west-1.amazonaws.com"
    assert "/eu-west-1/bedrock/aws4_request" in sent.headers["authorization"]


async def test_the_converse_route_prefix_and_an_api_base_are_honoured(harness: BedrockHarness) -> None:
    harness.deployment = _with(
        harness, upstream_model=f"converse/{CLAUDE}", api_base="https://vpce-0a1b.bedrock-runtime.example/"
    )
    script = harness.text_reply(stream=False)

    await harness.provider.complete(script.request, harness.deployment)

    assert (
        str(harness.upstream.sent[0].url)
        == f"https://vpce-0a1b.bedrock-runtime.example/model/{CLAUDE}/converse"
    )


async def test_a_plain_chat_puts_the_system_prompt_apart_and_the_turns_in_content_blocks(
    harness: BedrockHarness,
) -> None:
    assert await sent_body(harness) == {
        "messages": [{"role": "user", "content": [{"text": "Hello!"}]}],
        "system": [{"text": "You are a helpful assistant."}],
    }


async def test_sampling_fields_go_to_inference_config_and_model_extras_to_additional_fields(
    harness: BedrockHarness,
) -> None:
    body = await sent_body(
        harness,
        params=SamplingParams(temperature=0.2, top_p=0.9, max_completion_tokens=64, stop=("END", "")),
        extra_body={"top_k": 40, "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"},
                    "anthropic_beta": ["token-efficient-tools-2025-02-19"]},
        metadata={"trace": "t-1"},
        controls={"num_retries": 3},
    )  # fmt: skip

    assert body["inferenceConfig"] == {
        "maxTokens": 64,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    assert body["additionalModelRequestFields"] == {
        "top_k": 40,
        "anthropic_beta": ["token-efficient-tools-2025-02-19"],
    }
    assert body["guardrailConfig"] == {"guardrailIdentifier": "gr-1", "guardrailVersion": "1"}
    assert body["additionalModelResponseFieldPaths"] == ["/stop_sequence"]  # which stop sequence ended it
    assert set(body) == {
        "messages",
        "system",
        "inferenceConfig",
        "additionalModelRequestFields",
        "additionalModelResponseFieldPaths",
        "guardrailConfig",
    }


async def test_reasoning_effort_becomes_claudes_thinking_budget_with_room_to_answer(
    harness: BedrockHarness,
) -> None:
    body = await sent_body(harness, params=SamplingParams(reasoning_effort=ReasoningEffort.MEDIUM))

    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert body["inferenceConfig"] == {"maxTokens": 2048 + 4096}


async def test_a_multi_turn_tool_round_trip_becomes_tool_use_and_tool_result_blocks(
    harness: BedrockHarness,
) -> None:
    messages = (
        Message(Role.SYSTEM, "Answer tersely."),
        Message(Role.USER, "Weather in Boston and Paris?"),
        Message(
            Role.ASSISTANT,
            "Checking both.",
            tool_calls=(
                ToolCall("tooluse_1", "get_current_weather", '{"location": "Boston, MA"}'),
                ToolCall("tooluse_2", "get_current_weather", '{"location": "Paris"}'),
            ),
        ),
        Message(Role.TOOL, '{"temp": 21}', tool_call_id="tooluse_1"),
        Message(Role.TOOL, "", tool_call_id="tooluse_2"),
        Message(Role.USER, "And in Celsius?"),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,), tool_choice=ToolChoiceMode.AUTO)

    assert body["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Boston and Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"text": "Checking both."},
                {"toolUse": {"toolUseId": "tooluse_1", "name": NAME, "input": {"location": "Boston, MA"}}},
                {"toolUse": {"toolUseId": "tooluse_2", "name": NAME, "input": {"location": "Paris"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": '{"temp": 21}'}]}},
                {"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "."}]}},
                {"text": "And in Celsius?"},
            ],
        },
    ]  # fmt: skip
    assert body["system"] == [{"text": "Answer tersely."}]
    assert body["toolConfig"] == {"tools": [WEATHER_SPEC], "toolChoice": {"auto": {}}}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ToolChoiceMode.AUTO, {"auto": {}}),
        (ToolChoiceMode.REQUIRED, {"any": {}}),
        (NamedToolChoice("get_current_weather"), {"tool": {"name": "get_current_weather"}}),
        (None, None),
    ],
)
async def test_tool_choice_maps_to_converse_tool_choice(
    harness: BedrockHarness, choice: object, expected: dict | None
) -> None:
    body = await sent_body(harness, tools=(WEATHER_TOOL,), tool_choice=choice)

    assert body["toolConfig"]["tools"] == [WEATHER_SPEC]
    assert body["toolConfig"].get("toolChoice") == expected


async def test_tool_choice_none_sends_no_tools(harness: BedrockHarness) -> None:
    body = await sent_body(harness, tools=(WEATHER_TOOL,), tool_choice=ToolChoiceMode.NONE)

    assert "toolConfig" not in body


async def test_a_data_url_image_is_sent_as_its_bytes_with_its_format(harness: BedrockHarness) -> None:
    content = (TextPart("What is here?"), ImagePart("data:image/jpeg;base64,/9j/4AAQSkZJRg=="))

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "What is here?"},
                {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQSkZJRg=="}}},
            ],
        }
    ]


async def test_an_s3_image_is_sent_as_its_location(harness: BedrockHarness) -> None:
    content = (ImagePart("s3://my-bucket/photos/cat.png"),)

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"][0]["content"] == [
        {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://my-bucket/photos/cat.png"}}}}
    ]


async def test_an_https_image_is_refused_naming_it_and_nothing_is_sent(harness: BedrockHarness) -> None:
    content = (TextPart("What is here?"), ImagePart("https://example.com/cat.png"))
    harness.answer_json(200, "converse.json")

    with pytest.raises(UnsupportedParameterError) as raised:
        await harness.provider.complete(
            chat_request(messages=(Message(Role.USER, content),)), harness.deployment
        )

    assert raised.value.param == "messages[0].content[1].image_url"
    assert "data: URL" in raised.value.message
    assert harness.upstream.sent == []


async def test_a_json_schema_response_format_is_a_forced_tool_whose_input_is_the_reply(
    harness: BedrockHarness,
) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    request = chat_request(
        response_format=ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="city_answer", schema=schema)
    )
    answer = {"city": "Paris"}
    harness.upstream.answer = lambda _: httpx.Response(
        200,
        json={
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t9", "name": "city_answer", "input": answer}}],
                }
            },
            "stopReason": "tool_use",
            "usage": {"inputTokens": 40, "outputTokens": 12, "totalTokens": 52},
        },
    )  # fmt: skip

    response = await harness.provider.complete(request, harness.deployment)

    assert sent_json(harness.upstream.sent[0])["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "city_answer", "inputSchema": {"json": schema}}}],
        "toolChoice": {"tool": {"name": "city_answer"}},
    }
    (choice,) = response.choices
    assert orjson.loads(choice.message.text) == {"city": "Paris"}
    assert choice.message.tool_calls == ()
    assert choice.finish_reason == "stop"


async def test_a_stream_is_posted_to_converse_stream_asking_for_an_event_stream(
    harness: BedrockHarness,
) -> None:
    harness.text_reply(stream=True)

    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)
    await stream.aclose()

    (sent,) = harness.upstream.sent
    assert str(sent.url) == f"{ENDPOINT}/model/{CLAUDE}/converse-stream"
    assert sent.headers["accept"] == "application/vnd.amazon.eventstream"
    assert SIGNATURE.match(sent.headers["authorization"])
    assert sent_json(sent) == {
        "messages": [{"role": "user", "content": [{"text": "Hello!"}]}],
        "system": [{"text": "You are a helpful assistant."}],
    }


async def test_titan_embeddings_are_one_invoke_call_per_text(harness: BedrockHarness) -> None:
    harness.deployment = _with(harness, upstream_model="amazon.titan-embed-text-v2:0")
    harness.answer_json(200, "titan_embedding.json")

    response = await harness.provider.embed(
        EmbeddingRequest(model="embed-x", inputs=("first text", "second text"), dimensions=256),
        harness.deployment,
    )

    assert (
        sorted(str(sent.url) for sent in harness.upstream.sent)
        == [f"{ENDPOINT}/model/amazon.titan-embed-text-v2:0/invoke"] * 2
    )
    assert sorted(sent_json(sent)["inputText"] for sent in harness.upstream.sent) == [
        "first text",
        "second text",
    ]
    assert all(
        sent_json(sent) == {"inputText": sent_json(sent)["inputText"], "dimensions": 256}
        for sent in harness.upstream.sent
    )
    assert [item.index for item in response.data] == [0, 1]
    assert response.usage.prompt_tokens == 22


async def test_cohere_embeddings_ask_for_float_search_documents(harness: BedrockHarness) -> None:
    harness.deployment = _with(harness, upstream_model="cohere.embed-english-v3")
    harness.answer_json(200, "cohere_embeddings_by_type.json")

    await harness.provider.embed(
        EmbeddingRequest(model="embed-x", inputs=("a", "b"), extra_body={"truncate": "END"}),
        harness.deployment,
    )

    (sent,) = harness.upstream.sent
    assert str(sent.url) == f"{ENDPOINT}/model/cohere.embed-english-v3/invoke"
    assert sent_json(sent) == {
        "texts": ["a", "b"],
        "input_type": "search_document",
        "embedding_types": ["float"],
        "truncate": "END",
    }


def _with(harness: BedrockHarness, **changes: Any) -> Deployment:
    return dataclasses.replace(harness.deployment, **changes)


async def test_credentials_are_resolved_once_per_deployment_however_many_calls_arrive(
    harness: BedrockHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.llm.bedrock import credentials

    calls: list[str] = []
    real = credentials.resolve

    async def counted(deployment: Deployment, environ: Any) -> credentials.Access:
        calls.append(deployment.id)
        await asyncio.sleep(0.01)
        return await real(deployment, environ)

    monkeypatch.setattr(credentials, "resolve", counted)
    script = harness.text_reply(stream=False)

    await asyncio.gather(*(harness.provider.complete(script.request, harness.deployment) for _ in range(5)))
    await harness.provider.complete(script.request, harness.deployment)

    assert calls == ["bedrock-1"]
    assert len(harness.upstream.sent) == 6


# What a request that arrived in Anthropic's format carries.

PDF_DATA = "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg=="
PDF = f"data:application/pdf;base64,{PDF_DATA}"
NOTE_DATA = base64.b64encode(b"The lease runs for two years.").decode()
NOTE = f"data:text/plain;base64,{NOTE_DATA}"
LLAMA = "meta.llama3-1-70b-instruct-v1:0"


async def test_documents_are_document_blocks_with_names_bedrock_takes_unique_within_the_request(
    harness: BedrockHarness,
) -> None:
    content = (
        TextPart("Compare these."),
        DocumentPart(PDF, title="lease_2024.pdf", context="The signed copy"),
        DocumentPart(NOTE),
        DocumentPart(PDF),
        DocumentPart("s3://contracts/annex.docx"),
    )

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "Compare these."},
                {
                    "document": {
                        "format": "pdf",
                        "name": "lease 2024 pdf",
                        "source": {"bytes": PDF_DATA},
                        "context": "The signed copy",
                    }
                },
                {"document": {"format": "txt", "name": "document", "source": {"bytes": NOTE_DATA}}},
                {"document": {"format": "pdf", "name": "document (2)", "source": {"bytes": PDF_DATA}}},
                {
                    "document": {
                        "format": "docx",
                        "name": "document (3)",
                        "source": {"s3Location": {"uri": "s3://contracts/annex.docx"}},
                    }
                },
            ],
        }
    ]


async def test_a_thinking_budget_is_claudes_extended_thinking_with_room_to_answer(
    harness: BedrockHarness,
) -> None:
    body = await sent_body(harness, params=SamplingParams(thinking_budget=10000))

    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 10000}}
    assert body["inferenceConfig"] == {"maxTokens": 10000 + 4096}


async def test_top_k_is_claudes_model_field_over_a_configured_default_and_novas_inference_field() -> None:
    claude = BedrockHarness(extra_params={"top_k": 64})
    nova = BedrockHarness(upstream_model="us.amazon.nova-pro-v1:0")

    asked = await sent_body(claude, params=SamplingParams(top_k=40))
    configured = await sent_body(claude)
    novas = await sent_body(nova, params=SamplingParams(top_k=40))
    await claude.close()
    await nova.close()

    assert asked["additionalModelRequestFields"] == {"top_k": 40}
    assert configured["additionalModelRequestFields"] == {"top_k": 64}
    assert novas["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 40}}


async def test_claudes_signed_and_redacted_thinking_goes_back_before_the_text_and_a_failure_has_its_status(
    harness: BedrockHarness,
) -> None:
    thinking = (
        ThinkingBlock("The user wants Paris.", signature="EqQBCkYIBxgCKkCq8kZ1"),
        ThinkingBlock(redacted="RXJyb3IgcmVkYWN0ZWQ="),
        ThinkingBlock("Another model's thought, unsigned."),
    )
    messages = (
        Message(Role.USER, "Weather in Paris?"),
        Message(
            Role.ASSISTANT,
            "Let me look.",
            tool_calls=(ToolCall("toolu_01", NAME, '{"location": "Paris"}'),),
            thinking_blocks=thinking,
        ),
        Message(Role.TOOL, "the weather service is down", tool_call_id="toolu_01", tool_error=True),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))

    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {
                    "reasoningContent": {
                        "reasoningText": {
                            "text": "The user wants Paris.",
                            "signature": "EqQBCkYIBxgCKkCq8kZ1",
                        }
                    }
                },
                {"reasoningContent": {"redactedContent": "RXJyb3IgcmVkYWN0ZWQ="}},
                {"text": "Let me look."},
                {"toolUse": {"toolUseId": "toolu_01", "name": NAME, "input": {"location": "Paris"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "toolu_01",
                        "content": [{"text": "the weather service is down"}],
                        "status": "error",
                    }
                }
            ],
        },
    ]


async def test_a_model_other_than_claude_gets_no_reasoning_back_and_no_tool_status() -> None:
    harness = BedrockHarness(upstream_model=LLAMA)
    messages = (
        Message(Role.USER, "Weather in Paris?"),
        Message(
            Role.ASSISTANT,
            None,
            tool_calls=(ToolCall("call_1", NAME, "{}"),),
            thinking_blocks=(ThinkingBlock("Plan.", signature="EqQB"),),
        ),
        Message(Role.TOOL, "down", tool_call_id="call_1", tool_error=True),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))
    await harness.close()

    assert body["messages"][1:] == [
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "call_1", "name": NAME, "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "call_1", "content": [{"text": "down"}]}}]},
    ]


async def test_what_converse_cannot_honour_for_a_model_is_named() -> None:
    web = Message(Role.USER, (TextPart("Read it."), DocumentPart("https://example.com/lease.pdf")))
    request = chat_request(messages=(web,), params=SamplingParams(top_k=40, thinking_budget=2048))
    claude, llama = BedrockHarness(), BedrockHarness(upstream_model=LLAMA)

    for_claude = list(claude.provider.unsupported_params(request, claude.deployment))
    for_llama = list(llama.provider.unsupported_params(request, llama.deployment))
    await claude.close()
    await llama.close()

    assert for_claude == ["documents"]  # Bedrock fetches no web URL
    assert for_llama == ["thinking_budget", "top_k", "documents"]


async def test_a_request_native_to_another_format_is_sent_as_its_translation(harness: BedrockHarness) -> None:
    native = NativeRequest(
        "anthropic", {"model": "claude", "max_tokens": 64, "messages": []}, {"anthropic-beta": "x"}
    )

    plain = await sent_body(harness, params=SamplingParams(max_tokens=64))
    translated = await sent_body(harness, params=SamplingParams(max_tokens=64), native=native)

    assert translated == plain
    assert "anthropic-beta" not in harness.upstream.sent[-1].headers
