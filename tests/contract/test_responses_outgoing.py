"""What the OpenAI and Azure adapters put on the wire for a request native to the Responses API: the body
as the client sent it (only `model` and `stream` set) to the upstream's /responses, where the deployment
serves that API itself; its translation to chat completions where it does not."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest

from domain import errors
from domain.completions import (
    CompletionRequest,
    NativeRequest,
    ReasoningEffort,
    SamplingParams,
    Usage,
    assemble,
)
from domain.deployments import Credentials, Secret
from domain.messages import Message, Role
from tests.contract.harnesses.azure import API_BASE, AzureHarness
from tests.contract.harnesses.base import FIXTURES_ROOT, HttpHarness
from tests.contract.harnesses.compatible_hosts import host_harness
from tests.contract.harnesses.openai import FIXTURES as OPENAI_FIXTURES
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_json

FIXTURES = FIXTURES_ROOT / "responses"
CHAT = "https://api.groq.com/openai/v1/chat/completions"
DATED = f"{API_BASE}/openai/responses"
"""Azure's Responses API under a dated api-version."""

harness = harness_fixture(OpenAIHarness)


def responses_body(**changes: Any) -> dict[str, Any]:
    """A Responses API body as a client sends it, fields we do not model included."""
    return {
        "model": "gpt-x",
        "input": [
            {"role": "developer", "content": "Answer tersely."},
            {"role": "user", "content": [{"type": "input_text", "text": "Weather in Boston?"}]},
        ],
        "tools": [
            {"type": "function", "name": "get_current_weather", "parameters": {"type": "object"}},
            {"type": "web_search"},
        ],
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "stream": False,
        **changes,
    }


def native_request(body: dict[str, Any] | None = None, **changes: Any) -> CompletionRequest:
    """The request a Responses API client's body parses to, with the body kept as sent."""
    native = NativeRequest("responses", body or responses_body(), left_out=("tools.web_search",))
    messages = (Message(Role.DEVELOPER, "Answer tersely."), Message(Role.USER, "Weather in Boston?"))
    return CompletionRequest(**({"model": "gpt-x", "messages": messages, "native": native} | changes))


def answer_whole(harness: HttpHarness, fixture: str = "response_reasoning_tool_call.json") -> None:
    harness.answer_json(200, FIXTURES / fixture)


async def sent_native(harness: HttpHarness, request: CompletionRequest | None = None) -> httpx.Request:
    """What the adapter sent for one whole native call; the harness is closed after."""
    answer_whole(harness)
    await harness.provider.complete(request or native_request(), harness.deployment)
    await harness.close()
    return harness.upstream.sent[-1]


# --- OpenAI ----------------------------------------------------------------------------------------------


async def test_a_native_request_goes_to_responses_as_sent_but_for_the_model(harness: OpenAIHarness) -> None:
    body = responses_body()

    sent = await sent_native(harness, native_request(body))

    assert str(sent.url) == "https://api.openai.example/v1/responses"
    assert sent.headers["authorization"] == "Bearer sk-test-123"
    assert sent.headers["openai-organization"] == "org-test"
    assert sent.content == orjson.dumps(body | {"model": "gpt-4o-mini"})
    assert list(sent_json(sent)) == list(body)


async def test_a_native_stream_asks_for_a_stream_and_a_whole_reply_does_not(harness: OpenAIHarness) -> None:
    body = responses_body()
    del body["stream"]
    answer_whole(harness)
    await harness.provider.complete(native_request(body), harness.deployment)
    harness.answer_stream((FIXTURES / "stream.sse").read_bytes())
    stream = await harness.provider.stream(native_request(body, stream=True), harness.deployment)
    await stream.aclose()

    whole, streamed = harness.upstream.sent
    assert whole.content == orjson.dumps(body | {"model": "gpt-4o-mini"})
    assert streamed.content == orjson.dumps(body | {"model": "gpt-4o-mini", "stream": True})
    assert str(streamed.url) == "https://api.openai.example/v1/responses"


async def test_a_native_reply_comes_back_read_and_as_received(harness: OpenAIHarness) -> None:
    answer_whole(harness)

    reply = await harness.provider.complete(native_request(), harness.deployment)

    assert reply.native == json.loads((FIXTURES / "response_reasoning_tool_call.json").read_text())
    assert reply.choices[0].message.tool_calls[0].name == "get_current_weather"
    assert reply.usage == Usage(311, 214, cached_tokens=128, reasoning_tokens=192)


@pytest.mark.parametrize("fixture", ["stream.sse", "stream_reasoning_tool_call.sse"])
async def test_a_native_streams_chunks_carry_every_upstream_byte(
    harness: OpenAIHarness, fixture: str
) -> None:
    upstream = (FIXTURES / fixture).read_bytes()
    harness.answer_stream(upstream)  # in pieces of 7 bytes

    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    chunks = [chunk async for chunk in stream]

    assert b"".join(chunk.native or b"" for chunk in chunks) == upstream
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert assemble(chunks).choices[0].finish_reason is not None


async def test_an_error_event_ends_a_native_stream_after_the_bytes_before_it(harness: OpenAIHarness) -> None:
    upstream = (FIXTURES / "stream_error_event.sse").read_bytes()
    harness.answer_stream(upstream)
    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    carried: list[bytes] = []

    with pytest.raises(errors.InternalServerError):
        async for chunk in stream:
            carried.append(chunk.native or b"")

    assert b"".join(carried) == upstream[: upstream.index(b"event: error")]
    assert harness.upstream_closed


async def test_a_native_stream_closed_early_closes_the_upstream_reply(harness: OpenAIHarness) -> None:
    harness.answer_stream((FIXTURES / "stream.sse").read_bytes())
    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)

    async for _ in stream:
        break
    await stream.aclose()

    assert harness.upstream_closed
    assert [chunk async for chunk in stream] == []


@pytest.mark.parametrize("stream", [False, True])
async def test_a_native_call_the_upstream_refuses_is_its_error(harness: OpenAIHarness, stream: bool) -> None:
    harness.answer_json(429, OPENAI_FIXTURES / "errors/rate_limit_exceeded.json", {"retry-after": "7"})
    call = harness.provider.stream if stream else harness.provider.complete

    with pytest.raises(errors.RateLimitError) as raised:
        await call(native_request(stream=stream), harness.deployment)

    assert raised.value.retry_after == 7.0


async def test_a_failed_response_answered_whole_is_the_error_it_reports(harness: OpenAIHarness) -> None:
    answer_whole(harness, "response_failed.json")

    with pytest.raises(errors.InternalServerError):
        await harness.provider.complete(native_request(), harness.deployment)


async def test_deployment_defaults_fill_only_what_a_native_request_left_out() -> None:
    presets = {
        "temperature": 0.3,
        "max_tokens": 256,
        "reasoning_effort": ReasoningEffort.HIGH,
        "extra_body": {"store": True, "prompt_cache_key": "team-a"},
        "extra_headers": {"x-team": "search"},
    }
    harness = OpenAIHarness(extra_params=presets)
    body = responses_body(reasoning={"summary": "auto"})

    sent = await sent_native(harness, native_request(body))

    out = sent_json(sent)
    assert (out["temperature"], out["max_output_tokens"]) == (0.3, 256)
    assert out["reasoning"] == {"effort": "high", "summary": "auto"}
    assert (out["store"], out["prompt_cache_key"]) == (False, "team-a")
    assert sent.headers["x-team"] == "search"
    assert sent.headers["authorization"] == "Bearer sk-test-123"


async def test_a_native_request_is_not_second_guessed_parameter_by_parameter() -> None:
    harness = host_harness("groq")(supported_endpoints=("/v1/chat/completions", "/v1/responses"))
    request = native_request(params=SamplingParams(logprobs=True, top_k=3, n=2))

    assert harness.provider.unsupported_params(request, harness.deployment) == []
    assert harness.provider.unsupported_params(request, host_harness("groq")().deployment) != []
    await harness.close()


# --- who serves the Responses API itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "endpoints", "native"),
    [
        ("openai", None, True),
        ("azure", None, True),
        ("openai", ("/v1/chat/completions",), False),
        ("openai", ("/v1/chat/completions", "/v1/responses"), True),
        ("groq", None, False),
        ("groq", ("/responses",), True),
        ("hosted_vllm", ("/v1/responses/",), True),
        ("azure_ai", None, False),
    ],
)
def test_a_deployment_speaks_the_responses_api_where_it_serves_it(
    provider: str, endpoints: tuple[str, ...] | None, native: bool
) -> None:
    harness = OpenAIHarness(provider=provider, supported_endpoints=endpoints)

    assert harness.provider.speaks("responses", harness.deployment) is native
    assert not harness.provider.speaks("anthropic", harness.deployment)


async def test_a_host_without_supported_endpoints_gets_the_native_request_translated() -> None:
    harness = host_harness("groq")()
    harness.text_reply(stream=False)

    reply = await harness.provider.complete(native_request(), harness.deployment)
    await harness.close()

    (sent,) = harness.upstream.sent
    assert str(sent.url) == CHAT
    assert sent_json(sent)["messages"][1] == {"role": "user", "content": "Weather in Boston?"}
    assert reply.native is None


async def test_an_openai_deployment_listing_only_chat_completions_gets_it_translated() -> None:
    harness = OpenAIHarness(supported_endpoints=("/v1/chat/completions",))
    harness.text_reply(stream=False)

    await harness.provider.complete(native_request(), harness.deployment)
    await harness.close()

    assert str(harness.upstream.sent[0].url) == "https://api.openai.example/v1/chat/completions"
    assert "input" not in sent_json(harness.upstream.sent[0])


async def test_a_host_listing_the_responses_api_gets_the_request_as_sent() -> None:
    harness = host_harness("groq")(supported_endpoints=("/v1/chat/completions", "/v1/responses"))
    body = responses_body()

    sent = await sent_native(harness, native_request(body))

    assert str(sent.url) == "https://api.groq.com/openai/v1/responses"
    assert sent.headers["authorization"] == "Bearer groq-key-123"
    assert sent.content == orjson.dumps(body | {"model": "test-model"})


# --- Azure OpenAI --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_base", "api_version", "url"),
    [
        # The dated chat default has no Responses API: the v1 API serves it.
        (API_BASE, "2024-10-21", f"{API_BASE}/openai/v1/responses"),
        (API_BASE, None, f"{API_BASE}/openai/v1/responses"),
        (API_BASE, "v1", f"{API_BASE}/openai/v1/responses"),
        (API_BASE, "preview", f"{API_BASE}/openai/v1/responses?api-version=preview"),
        (f"{API_BASE}/openai/v1/", "2025-04-01-preview", f"{API_BASE}/openai/v1/responses"),
        (API_BASE, "2025-04-01-preview", f"{DATED}?api-version=2025-04-01-preview"),
        (f"{API_BASE}/openai/", "2025-03-01-preview", f"{DATED}?api-version=2025-03-01-preview"),
    ],
)
async def test_an_azure_native_request_goes_to_the_responses_api_of_its_resource(
    api_base: str, api_version: str | None, url: str
) -> None:
    extra = {"api_version": api_version} if api_version else {}
    harness = AzureHarness(api_base=api_base, credentials=Credentials(Secret("azure-key-123"), extra=extra))
    body = responses_body()

    sent = await sent_native(harness, native_request(body))

    assert str(sent.url) == url
    assert sent.headers["api-key"] == "azure-key-123"
    assert "authorization" not in sent.headers
    # Azure routes by the body's model: the deployment's name.
    assert sent.content == orjson.dumps(body | {"model": "gpt-4o-deployment"})


async def test_an_azure_native_stream_carries_every_upstream_byte() -> None:
    harness = AzureHarness()
    upstream = (FIXTURES / "stream_reasoning_tool_call.sse").read_bytes()
    harness.answer_stream(upstream)

    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    chunks = [chunk async for chunk in stream]
    await harness.close()

    (sent,) = harness.upstream.sent
    assert str(sent.url) == f"{API_BASE}/openai/v1/responses"
    assert sent_json(sent)["stream"] is True
    assert b"".join(chunk.native or b"" for chunk in chunks) == upstream


async def test_an_azure_deployment_listing_only_chat_completions_gets_the_request_translated() -> None:
    harness = AzureHarness(supported_endpoints=("/v1/chat/completions",))
    harness.text_reply(stream=False)

    await harness.provider.complete(native_request(), harness.deployment)
    await harness.close()

    assert "/openai/deployments/gpt-4o-deployment/chat/completions" in str(harness.upstream.sent[0].url)
