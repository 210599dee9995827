"""The LLMProvider contract (ports/llm_provider.py), held by every adapter."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from domain import errors
from domain.completions import CompletionChunk, FinishReason, assemble
from domain.messages import ImagePart, Message, Role, TextPart, ToolCall
from ports.llm_provider import ChunkStream
from tests.contract.harnesses.base import WEATHER_TOOL, ProviderHarness

FAILURES: dict[str, type[errors.SwitchyardError]] = {
    "bad_request": errors.BadRequestError,
    "context_window": errors.ContextWindowExceededError,
    "content_policy": errors.ContentPolicyViolationError,
    "unauthorized": errors.AuthenticationError,
    "forbidden": errors.PermissionDeniedError,
    "not_found": errors.NotFoundError,
    "request_timeout": errors.TimeoutError,
    "unprocessable": errors.UnprocessableEntityError,
    "rate_limited": errors.RateLimitError,
    "server_error": errors.InternalServerError,
    "bad_gateway": errors.BadGatewayError,
    "unavailable": errors.ServiceUnavailableError,
    "connection_refused": errors.APIConnectionError,
    "connection_reset": errors.APIConnectionError,
    "read_timeout": errors.TimeoutError,
    "malformed_body": errors.BadGatewayError,
}
MID_STREAM_FAILURES: dict[str, type[errors.SwitchyardError]] = {
    "error_event": errors.InternalServerError,
    "connection_reset": errors.APIConnectionError,
    "read_timeout": errors.TimeoutError,
    "malformed_chunk": errors.BadGatewayError,
}


PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
    "60e6kgAAAABJRU5ErkJggg=="
)
# A whole tool round trip, then an image: what every adapter must be able to send on.
ROUND_TRIP = (
    Message(Role.SYSTEM, "You are a helpful assistant."),
    Message(Role.USER, "What is the weather in Paris?"),
    Message(Role.ASSISTANT, tool_calls=(ToolCall("call_1", WEATHER_TOOL.name, '{"location": "Paris"}'),)),
    Message(Role.TOOL, '{"temperature": 21, "unit": "celsius"}', tool_call_id="call_1"),
    Message(Role.ASSISTANT, "It is 21 degrees in Paris."),
    Message(Role.USER, (TextPart("And what is in this picture?"), ImagePart(PIXEL))),
)


async def _drain(stream: ChunkStream) -> list[CompletionChunk]:
    return [chunk async for chunk in stream]


async def test_a_chat_returns_the_whole_reply_with_its_usage(harness: ProviderHarness) -> None:
    script = harness.text_reply(stream=False)

    response = await harness.provider.complete(script.request, harness.deployment)

    (choice,) = response.choices
    assert choice.message.text == script.text
    assert choice.message.role == "assistant"
    assert choice.finish_reason is FinishReason.STOP
    assert response.id and response.model
    assert response.usage == script.usage


async def test_a_stream_opens_with_the_role_and_spells_the_reply_in_order(harness: ProviderHarness) -> None:
    script = harness.text_reply(stream=True)

    chunks = await _drain(await harness.provider.stream(script.request, harness.deployment))

    deltas = [choice for chunk in chunks for choice in chunk.choices]
    assert deltas[0].delta.role == "assistant"
    assert all(d.delta.role is None for d in deltas[1:])
    assert "".join(d.delta.content or "" for d in deltas) == script.text
    finishing = [i for i, d in enumerate(deltas) if d.finish_reason is not None]
    assert finishing == [len(deltas) - 1]
    assert deltas[-1].finish_reason is FinishReason.STOP
    assert len({chunk.id for chunk in chunks}) == 1


async def test_a_stream_that_asks_for_usage_carries_it_on_its_last_chunk(harness: ProviderHarness) -> None:
    script = harness.text_reply(stream=True)

    chunks = await _drain(await harness.provider.stream(script.request, harness.deployment))

    assert chunks[-1].usage == script.usage
    assert all(chunk.usage is None for chunk in chunks[:-1])


async def test_a_forced_tool_call_comes_back_as_a_call_with_json_arguments(harness: ProviderHarness) -> None:
    script = harness.tool_call(stream=False)

    response = await harness.provider.complete(script.request, harness.deployment)

    (choice,) = response.choices
    (call,) = choice.message.tool_calls
    assert call.id
    assert call.name == script.tool_name
    assert json.loads(call.arguments) == script.arguments
    assert choice.finish_reason is FinishReason.TOOL_CALLS


async def test_a_streamed_tool_call_names_itself_first_and_assembles_into_the_call(
    harness: ProviderHarness,
) -> None:
    script = harness.tool_call(stream=True)

    chunks = await _drain(await harness.provider.stream(script.request, harness.deployment))

    pieces = [call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls]
    assert pieces[0].id and pieces[0].name == script.tool_name
    assert all(piece.id is None and piece.name is None for piece in pieces[1:])
    (choice,) = assemble(chunks).choices
    (call,) = choice.message.tool_calls
    assert (call.id, call.name) == (pieces[0].id, script.tool_name)
    assert json.loads(call.arguments) == script.arguments
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert chunks[-1].usage is not None


@pytest.mark.parametrize("wire", ["float", "base64"])
async def test_embeddings_come_back_one_vector_per_input_in_order(
    harness: ProviderHarness, wire: str
) -> None:
    script = harness.embeddings(wire=wire)

    response = await harness.provider.embed(script.request, harness.deployment)

    assert [item.index for item in response.data] == list(range(len(script.request.inputs)))
    assert all(len(item.vector) == script.dimensions for item in response.data)
    assert all(math.isfinite(value) for item in response.data for value in item.vector)
    if script.vectors is not None:
        for item, expected in zip(response.data, script.vectors, strict=True):
            assert list(item.vector) == pytest.approx(expected, rel=1e-6)
    assert response.usage == script.usage


@pytest.mark.parametrize("via", ["complete", "stream"])
@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_each_upstream_failure_is_raised_up_front_as_its_domain_error(
    harness: ProviderHarness, kind: str, via: str
) -> None:
    request = harness.failure(kind, stream=via == "stream")
    call = harness.provider.complete if via == "complete" else harness.provider.stream

    with pytest.raises(errors.SwitchyardError) as raised:
        await call(request, harness.deployment)

    assert type(raised.value) is FAILURES[kind]
    assert raised.value.message
    if kind == "rate_limited":
        assert isinstance(raised.value, errors.RateLimitError)
        assert raised.value.retry_after == pytest.approx(harness.retry_after)


@pytest.mark.parametrize("kind", sorted(MID_STREAM_FAILURES))
async def test_a_failure_mid_stream_is_raised_by_the_iterator_after_the_chunks_before_it(
    harness: ProviderHarness, kind: str
) -> None:
    request = harness.failure_mid_stream(kind)
    stream = await harness.provider.stream(request, harness.deployment)
    received: list[CompletionChunk] = []

    with pytest.raises(errors.SwitchyardError) as raised:
        async for chunk in stream:
            received.append(chunk)

    assert type(raised.value) is MID_STREAM_FAILURES[kind]
    assert received and received[0].choices[0].delta.role == "assistant"
    assert harness.upstream_closed is not False


async def test_closing_a_stream_early_ends_it_and_releases_the_upstream(harness: ProviderHarness) -> None:
    script = harness.text_reply(stream=True)
    stream = await harness.provider.stream(script.request, harness.deployment)
    chunks = aiter(stream)

    first = await anext(chunks)
    await stream.aclose()

    assert first.choices[0].delta.role == "assistant"
    assert [chunk async for chunk in chunks] == []
    assert harness.upstream_closed is not False


async def test_a_stream_read_to_the_end_releases_the_upstream(harness: ProviderHarness) -> None:
    script = harness.text_reply(stream=True)

    await _drain(await harness.provider.stream(script.request, harness.deployment))

    assert harness.upstream_closed is not False


@pytest.mark.parametrize("stream", [False, True])
async def test_a_conversation_with_a_tool_round_trip_and_an_image_is_sent_on_and_answered(
    harness: ProviderHarness, stream: bool
) -> None:
    script = harness.text_reply(stream=stream)
    request = dataclasses.replace(script.request, messages=ROUND_TRIP, tools=(WEATHER_TOOL,))

    if stream:
        reply = assemble(await _drain(await harness.provider.stream(request, harness.deployment)))
    else:
        reply = await harness.provider.complete(request, harness.deployment)

    assert reply.choices[0].message.text == script.text
