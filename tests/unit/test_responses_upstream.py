"""Reading a Responses-API upstream's replies into the domain: whole `response` objects, and streams whose
chunks carry the upstream's bytes exactly as received while their deltas spell the same reply."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from adapters.llm.sse import split_events
from adapters.responses_format.upstream import read_response, read_stream
from domain import errors
from domain.completions import CompletionChunk, FinishReason, ToolCallDelta, Usage, assemble
from domain.messages import ThinkingBlock, ToolCall

FIXTURES = Path(__file__).parents[1] / "contract" / "fixtures" / "responses"
STREAMS = {
    "stream.sse": "response.json",
    "stream_reasoning_tool_call.sse": "response_reasoning_tool_call.json",
    "stream_custom_tool_call.sse": "response_custom_tool_call.json",
}
READS = [1, 7, 100, None]
"""Bytes per network read; None: the whole stream in one."""


def _payload(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def _reads(body: bytes, size: int | None) -> list[bytes]:
    size = size or len(body)
    return [body[i : i + size] for i in range(0, len(body), size)]


async def _pieces(reads: list[bytes]) -> AsyncIterator[bytes]:
    for piece in reads:
        yield piece


async def _batches(reads: list[bytes]) -> list[list[CompletionChunk]]:
    return [batch async for batch in read_stream(_pieces(reads))]


async def _until_failure(reads: list[bytes]) -> tuple[list[CompletionChunk], Exception]:
    chunks: list[CompletionChunk] = []
    with pytest.raises(errors.SwitchyardError) as raised:
        async for batch in read_stream(_pieces(reads)):
            chunks.extend(batch)
    return chunks, raised.value


def _carried(chunks: list[CompletionChunk]) -> bytes:
    return b"".join(chunk.native or b"" for chunk in chunks)


# --- the fixtures are the API's own shapes ---------------------------------------------------------------


def test_the_fixtures_are_what_the_official_sdk_reads_as_responses_and_stream_events() -> None:
    events = TypeAdapter(ResponseStreamEvent)
    for path in sorted(FIXTURES.glob("*.json")):
        Response.model_validate_json(path.read_bytes())
    for path in sorted(FIXTURES.glob("*.sse")):
        for event in path.read_bytes().split(b"\n\n")[:-1]:
            name, data = event.split(b"\n")
            parsed = events.validate_json(data.removeprefix(b"data: "))
            assert name == b"event: " + parsed.type.encode()


# --- whole replies ---------------------------------------------------------------------------------------


def test_a_text_reply_reads_as_its_content_usage_and_the_body_as_received() -> None:
    payload = _payload("response.json")

    reply = read_response(payload)

    assert reply.native == payload
    assert (reply.id, reply.created, reply.model) == (payload["id"], 1741476542, "gpt-4.1-2025-04-14")
    (choice,) = reply.choices
    assert choice.message.content == payload["output"][0]["content"][0]["text"]
    assert choice.finish_reason is FinishReason.STOP
    assert reply.usage == Usage(prompt_tokens=36, completion_tokens=87)
    assert reply.service_tier == "default"


def test_reasoning_and_a_function_call_read_as_a_signed_thinking_block_and_a_tool_call() -> None:
    payload = _payload("response_reasoning_tool_call.json")
    reasoning = payload["output"][0]
    summary = "\n\n".join(part["text"] for part in reasoning["summary"])

    reply = read_response(payload)

    message = reply.choices[0].message
    assert message.tool_calls == (
        ToolCall("call_SyHuJ0rZ8WhHdcSbdvGcvrZe", "get_current_weather", '{"location":"Boston, MA"}'),
    )
    assert message.reasoning_content == summary
    assert message.thinking_blocks == (ThinkingBlock(summary, reasoning["encrypted_content"]),)
    assert message.content is None
    assert reply.choices[0].finish_reason is FinishReason.TOOL_CALLS
    assert reply.usage == Usage(311, 214, cached_tokens=128, reasoning_tokens=192)


def test_a_function_call_in_a_namespace_is_named_with_its_namespace() -> None:
    payload = _payload("response_reasoning_tool_call.json")
    payload["output"][1]["namespace"] = "weather"

    (call,) = read_response(payload).choices[0].message.tool_calls

    assert call.name == "weather__get_current_weather"


def test_a_custom_tool_call_reads_with_its_input_as_the_json_arguments_of_an_input_field() -> None:
    payload = _payload("response_custom_tool_call.json")

    (call,) = read_response(payload).choices[0].message.tool_calls

    assert (call.id, call.name) == ("call_aGiFQkRWSWAIsMQ19fKqxUgb", "code_exec")
    assert json.loads(call.arguments) == {"input": 'print("hello world")\n# done'}
    assert call.arguments == json.dumps({"input": payload["output"][0]["input"]})


def test_raw_reasoning_text_is_the_reasoning_where_there_is_no_summary() -> None:
    payload = _payload("response.json")
    payload["output"].insert(
        0,
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "The user wants a story."}],
        },
    )

    message = read_response(payload).choices[0].message

    assert message.reasoning_content == "The user wants a story."
    assert message.thinking_blocks == (ThinkingBlock("The user wants a story."),)


def test_a_refusal_reads_as_the_messages_refusal() -> None:
    payload = _payload("response.json")
    payload["output"][0]["content"] = [{"type": "refusal", "refusal": "I can't help with that."}]

    message = read_response(payload).choices[0].message

    assert (message.content, message.refusal) == (None, "I can't help with that.")


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("max_output_tokens", FinishReason.LENGTH), ("content_filter", FinishReason.CONTENT_FILTER)],
)
def test_an_incomplete_response_finishes_for_the_reason_it_gives(reason: str, finish: FinishReason) -> None:
    payload = _payload("response_incomplete.json")
    payload["incomplete_details"] = {"reason": reason}

    reply = read_response(payload)

    assert reply.choices[0].finish_reason is finish
    assert reply.usage == Usage(22, 16, reasoning_tokens=16)


def test_a_failed_response_is_the_error_it_reports() -> None:
    with pytest.raises(errors.InternalServerError) as raised:
        read_response(_payload("response_failed.json"))

    assert raised.value.message.startswith("An error occurred while processing your request.")
    assert raised.value.code == "server_error"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("rate_limit_exceeded", errors.RateLimitError),
        ("invalid_prompt", errors.BadRequestError),
        ("invalid_image_url", errors.BadRequestError),
        ("bio_policy", errors.ContentPolicyViolationError),
        ("vector_store_timeout", errors.TimeoutError),
    ],
)
def test_a_failed_responses_error_code_says_which_error_it_is(code: str, kind: type[Exception]) -> None:
    payload = _payload("response_failed.json")
    payload["error"] = {"code": code, "message": "It failed."}

    with pytest.raises(kind) as raised:
        read_response(payload)

    assert type(raised.value) is kind


def test_a_failed_status_without_an_error_is_still_a_failure() -> None:
    payload = _payload("response_failed.json") | {"error": None}

    with pytest.raises(errors.InternalServerError):
        read_response(payload)


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "response",
        {"id": "resp_1", "object": "response"},
        {"id": "resp_1", "output": {"type": "message"}},
        {"id": "resp_1", "output": ["message"]},
        {"id": "resp_1", "output": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
        {"id": "resp_1", "output": [{"type": "message", "content": [{"type": "output_text", "text": 1}]}]},
    ],
)
def test_a_body_that_is_no_response_is_a_bad_gateway_error(payload: object) -> None:
    with pytest.raises(errors.BadGatewayError):
        read_response(payload)


# --- streams ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", STREAMS)
@pytest.mark.parametrize("size", READS)
async def test_a_streams_chunks_carry_every_upstream_byte_in_order_whatever_the_reads(
    fixture: str, size: int | None
) -> None:
    upstream = (FIXTURES / fixture).read_bytes()

    chunks = [chunk for batch in await _batches(_reads(upstream, size)) for chunk in batch]

    assert _carried(chunks) == upstream
    assert all(chunk.native for chunk in chunks if not chunk.choices and chunk.usage is None)


@pytest.mark.parametrize("fixture", STREAMS)
@pytest.mark.parametrize("size", [7, None])
async def test_a_stream_spells_the_reply_its_completed_event_reports(fixture: str, size: int | None) -> None:
    upstream = (FIXTURES / fixture).read_bytes()
    whole = read_response(_payload(STREAMS[fixture]))

    chunks = [chunk for batch in await _batches(_reads(upstream, size)) for chunk in batch]

    streamed = assemble(chunks)
    assert streamed.choices[0].message == whole.choices[0].message
    assert streamed.choices[0].finish_reason is whole.choices[0].finish_reason
    assert (streamed.id, streamed.model, streamed.created) == (whole.id, whole.model, whole.created)
    assert chunks[-1].usage == whole.usage


async def test_each_reads_events_are_handed_over_with_that_read() -> None:
    upstream = (FIXTURES / "stream_reasoning_tool_call.sse").read_bytes()
    reads = [event + b"\n\n" for event in upstream.split(b"\n\n")[:-1]]

    batches = await _batches(reads)

    assert [_carried(batch) for batch in batches] == reads
    quiet = [batch for batch, read in zip(batches, reads, strict=True) if b"response.in_progress" in read]
    assert len(quiet) == 1 and all(chunk.choices == () for chunk in quiet[0])


async def test_a_function_call_streams_its_id_and_name_first_then_its_argument_fragments() -> None:
    upstream = (FIXTURES / "stream_reasoning_tool_call.sse").read_bytes()

    chunks = [chunk for batch in await _batches([upstream]) for chunk in batch]

    calls = [call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls]
    head = ToolCallDelta(0, id="call_SyHuJ0rZ8WhHdcSbdvGcvrZe", name="get_current_weather", arguments="")
    assert calls[0] == head
    assert all(call.id is None and call.name is None and call.index == 0 for call in calls[1:])
    assert "".join(call.arguments or "" for call in calls) == '{"location":"Boston, MA"}'


async def test_a_stream_with_crlf_line_endings_is_carried_byte_for_byte() -> None:
    upstream = (FIXTURES / "stream_reasoning_tool_call.sse").read_bytes().replace(b"\n", b"\r\n")

    chunks = [chunk for batch in await _batches(_reads(upstream, 5)) for chunk in batch]

    assert _carried(chunks) == upstream
    assert assemble(chunks).choices[0].message.tool_calls[0].arguments == '{"location":"Boston, MA"}'


@pytest.mark.parametrize("size", READS)
async def test_an_error_event_is_raised_as_its_error_after_the_bytes_before_it(size: int | None) -> None:
    upstream = (FIXTURES / "stream_error_event.sse").read_bytes()

    chunks, error = await _until_failure(_reads(upstream, size))

    assert isinstance(error, errors.InternalServerError)
    assert error.message.startswith("The server had an error processing your request.")
    assert _carried(chunks) == upstream[: upstream.index(b"event: error")]
    assert assemble(chunks).choices[0].message.content == "In a peaceful"


async def test_a_failed_response_event_is_raised_as_the_error_it_reports() -> None:
    upstream = (FIXTURES / "stream_failed.sse").read_bytes()

    chunks, error = await _until_failure(_reads(upstream, 7))

    assert isinstance(error, errors.RateLimitError)
    assert error.code == "rate_limit_exceeded"
    assert _carried(chunks) == upstream[: upstream.index(b"event: response.failed")]


async def test_an_error_event_nesting_an_api_error_is_that_error() -> None:
    upstream = (
        b"event: error\n"
        b'data: {"type":"error","sequence_number":0,"error":{"type":"invalid_request_error",'
        b'"code":"context_length_exceeded","message":"Your input exceeds the context window.",'
        b'"param":"input"}}'
        b"\n\n"
    )

    _, error = await _until_failure([upstream])

    assert isinstance(error, errors.ContextWindowExceededError)


async def test_a_stream_cut_short_is_a_bad_gateway_error_after_what_did_arrive() -> None:
    upstream = (FIXTURES / "stream.sse").read_bytes()
    cut = upstream[: upstream.index(b"event: response.output_text.done")]

    chunks, error = await _until_failure(_reads(cut, 100))

    assert isinstance(error, errors.BadGatewayError)
    assert _carried(chunks) == cut


async def test_a_malformed_event_is_a_bad_gateway_error_after_the_events_before_it() -> None:
    head = (FIXTURES / "stream.sse").read_bytes().split(b"\n\n")[:3]
    before = b"\n\n".join(head) + b"\n\n"
    upstream = before + b'event: response.output_text.delta\ndata: {"type":"response.output_text.de\n\n'

    chunks, error = await _until_failure([upstream])

    assert isinstance(error, errors.BadGatewayError)
    assert _carried(chunks) == before


async def test_a_last_event_without_its_blank_line_still_completes_the_stream() -> None:
    upstream = (FIXTURES / "stream.sse").read_bytes().removesuffix(b"\n\n")

    chunks = [chunk for batch in await _batches(_reads(upstream, 100)) for chunk in batch]

    assert _carried(chunks) == upstream
    assert chunks[-1].usage == Usage(36, 87)


@pytest.mark.parametrize(
    ("buffer", "events", "rest"),
    [
        (b"data: 1\n\ndata: 2\n\ndata: 3", [b"data: 1\n\n", b"data: 2\n\n"], b"data: 3"),
        (b"data: 1\r\n\r\ndata: 2\r\n\r", [b"data: 1\r\n\r\n"], b"data: 2\r\n\r"),
        (b"data: 1\r\rdata: 2\n", [b"data: 1\r\r"], b"data: 2\n"),
    ],
)
def test_whole_events_are_split_off_with_their_blank_line_and_the_rest_is_kept(
    buffer: bytes, events: list[bytes], rest: bytes
) -> None:
    assert split_events(buffer) == (events, rest)


async def test_a_stream_read_whole_hands_on_its_first_event_alone_then_the_rest() -> None:
    body = (FIXTURES / "stream.sse").read_bytes()
    first_event, _ = split_events(body)

    batches = await _batches([body])

    assert [_carried(batch) for batch in batches[:1]] == [first_event[0]]
    assert _carried([chunk for batch in batches for chunk in batch]) == body
    assert len(batches) == 2
