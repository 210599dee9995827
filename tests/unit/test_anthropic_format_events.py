"""Domain chunk streams written as Anthropic's events: blocks opened and closed as the content changes kind,
one ping, stop reasons and usage at the end, one write per batch, native bytes untouched, failures as an
error event, and the upstream stream always closed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from adapters.anthropic_format import message_events
from domain.completions import ChunkChoice, CompletionChunk, Delta, FinishReason, ToolCallDelta, Usage
from domain.errors import RateLimitError
from ports.llm_provider import ChunkStream


class Batches(ChunkStream):
    def __init__(self, *batches: Sequence[CompletionChunk] | Exception) -> None:
        self._batches = batches
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for item in batch:
                yield item

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        for batch in self._batches:
            if isinstance(batch, Exception):
                raise batch
            yield batch

    async def aclose(self) -> None:
        self.closed = True


def delta(**fields: Any) -> CompletionChunk:
    finish = fields.pop("finish_reason", None)
    stop_sequence = fields.pop("stop_sequence", None)
    index = fields.pop("index", 0)
    choice = ChunkChoice(index, Delta(**fields), finish, stop_sequence=stop_sequence)
    return CompletionChunk("chatcmpl-7", 0, "upstream", (choice,))


def call(index: int, **fields: Any) -> CompletionChunk:
    return delta(tool_calls=(ToolCallDelta(index, **fields),))


async def writes(*batches: Sequence[CompletionChunk] | Exception) -> list[bytes]:
    return [data async for data in message_events(Batches(*batches), "m")]


def events(data: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for raw in b"".join(data).decode().split("\n\n"):
        if raw:
            name, payload = raw.split("\n")
            found.append((name.removeprefix("event: "), json.loads(payload.removeprefix("data: "))))
    return found


def names(data: list[bytes]) -> list[str]:
    return [name for name, _ in events(data)]


def blocks(data: list[bytes]) -> list[tuple[int, str]]:
    return [
        (payload["index"], payload["content_block"]["type"])
        for name, payload in events(data)
        if name == "content_block_start"
    ]


def deltas(data: list[bytes]) -> list[tuple[int, dict[str, Any]]]:
    return [
        (payload["index"], payload["delta"])
        for name, payload in events(data)
        if name == "content_block_delta"
    ]


def final_delta(data: list[bytes]) -> dict[str, Any]:
    return next(payload for name, payload in events(data) if name == "message_delta")


async def test_each_change_of_kind_opens_a_new_block_with_the_next_index() -> None:
    data = await writes([delta(content="a"), delta(reasoning_content="b"), delta(content="c")])

    assert blocks(data) == [(0, "text"), (1, "thinking"), (2, "text")]
    assert names(data) == [
        "message_start",
        "content_block_start", "ping", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip


async def test_empty_deltas_open_no_block() -> None:
    data = await writes([delta(role="assistant", content=""), delta(finish_reason=FinishReason.STOP)])

    assert names(data) == ["message_start", "message_delta", "message_stop"]


async def test_an_empty_stream_is_still_a_whole_message() -> None:
    data = await writes()

    assert names(data) == ["message_start", "message_delta", "message_stop"]
    assert events(data)[0][1]["message"]["id"].startswith("msg_")
    assert final_delta(data)["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


async def test_a_tool_call_without_arguments_is_a_block_with_no_delta_and_an_empty_input() -> None:
    data = await writes([call(0, id="call_1", name="list_files", arguments="")])

    (start,) = [payload for name, payload in events(data) if name == "content_block_start"]
    assert start["content_block"] == {"type": "tool_use", "id": "call_1", "name": "list_files", "input": {}}
    assert deltas(data) == []
    assert final_delta(data)["delta"]["stop_reason"] == "tool_use"


async def test_a_tool_call_without_an_id_gets_one() -> None:
    data = await writes([call(0, name="f", arguments="{}")])

    (start,) = [payload for name, payload in events(data) if name == "content_block_start"]
    assert start["content_block"]["id"].startswith("toolu_")


async def test_fragments_of_an_earlier_call_still_name_its_block() -> None:
    data = await writes(
        [
            call(0, id="a", name="f", arguments='{"x"'),
            call(1, id="b", name="g", arguments='{"y": 2}'),
            call(0, arguments=": 1}"),
        ]
    )

    assert blocks(data) == [(0, "tool_use"), (1, "tool_use")]
    assert deltas(data) == [
        (0, {"type": "input_json_delta", "partial_json": '{"x"'}),
        (1, {"type": "input_json_delta", "partial_json": '{"y": 2}'}),
        (0, {"type": "input_json_delta", "partial_json": ": 1}"}),
    ]


async def test_a_signature_closes_its_thinking_block_and_later_thinking_opens_another() -> None:
    data = await writes(
        [delta(reasoning_content="a"), delta(thinking_signature="s1"), delta(reasoning_content="b")]
    )

    assert blocks(data) == [(0, "thinking"), (1, "thinking")]
    assert deltas(data) == [
        (0, {"type": "thinking_delta", "thinking": "a"}),
        (0, {"type": "signature_delta", "signature": "s1"}),
        (1, {"type": "thinking_delta", "thinking": "b"}),
    ]


async def test_a_signature_with_no_thinking_before_it_gets_a_thinking_block_of_its_own() -> None:
    data = await writes([delta(content="x"), delta(thinking_signature="s")])

    assert blocks(data) == [(0, "text"), (1, "thinking")]
    assert deltas(data)[-1] == (1, {"type": "signature_delta", "signature": "s"})


async def test_one_ping_follows_the_first_block_start() -> None:
    data = await writes(
        [delta(content="a")], [call(0, id="t", name="f", arguments="{}")], [delta(content="b")]
    )

    assert names(data).count("ping") == 1
    assert names(data)[:3] == ["message_start", "content_block_start", "ping"]


async def test_a_refusal_is_streamed_as_text() -> None:
    data = await writes([delta(refusal="I can't."), delta(finish_reason=FinishReason.CONTENT_FILTER)])

    assert deltas(data) == [(0, {"type": "text_delta", "text": "I can't."})]
    assert final_delta(data)["delta"]["stop_reason"] == "refusal"


async def test_a_stop_sequence_and_the_final_usage_go_in_message_delta() -> None:
    usage = Usage(prompt_tokens=30, completion_tokens=7, cached_tokens=20, cache_creation_tokens=4)
    data = await writes(
        [delta(content="one two")],
        [delta(finish_reason=FinishReason.STOP, stop_sequence="three")],
        [CompletionChunk("chatcmpl-7", 0, "upstream", (), usage)],
    )

    assert final_delta(data) == {
        "type": "message_delta",
        "delta": {"stop_reason": "stop_sequence", "stop_sequence": "three"},
        "usage": {
            "input_tokens": 6,
            "cache_creation_input_tokens": 4,
            "cache_read_input_tokens": 20,
            "output_tokens": 7,
        },
    }


async def test_a_tool_call_that_ends_in_a_plain_stop_is_a_tool_use_stop() -> None:
    data = await writes([call(0, id="t", name="f", arguments="{}"), delta(finish_reason=FinishReason.STOP)])

    assert final_delta(data)["delta"]["stop_reason"] == "tool_use"


async def test_message_start_names_the_asked_model_and_the_replys_id() -> None:
    data = await writes([delta(content="x")])

    _, start = events(data)[0]
    assert start["message"]["model"] == "m"
    assert start["message"]["id"] == "msg_chatcmpl-7"
    assert start["message"]["content"] == [] and start["message"]["stop_reason"] is None


async def test_other_choices_than_the_first_are_left_out() -> None:
    data = await writes([delta(content="mine"), delta(content="other", index=1)])

    assert deltas(data) == [(0, {"type": "text_delta", "text": "mine"})]


async def test_each_batch_is_one_write_and_the_end_one_more() -> None:
    data = await writes([delta(content="a"), delta(content="b")], [delta(content="c")])

    assert len(data) == 3
    assert [name for name, _ in events(data[:1])] == [
        "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
    ]  # fmt: skip


async def test_once_the_stream_is_native_only_the_upstreams_bytes_are_written() -> None:
    native = b'event: ping\ndata: {"type": "ping"}\n\n'
    usage_only = CompletionChunk("m", 0, "x", (), Usage(1, 1))

    data = await writes([CompletionChunk("m", 0, "x", native=native), usage_only], [delta(content="late")])

    assert data == [native]


async def test_a_failure_mid_stream_is_an_error_event_and_the_stream_is_closed() -> None:
    stream = Batches([delta(content="a")], RateLimitError("Too many requests", retry_after=2))

    data = [piece async for piece in message_events(stream, "m")]

    assert events(data)[-1] == (
        "error",
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Too many requests"}},
    )
    assert "message_stop" not in names(data)
    assert stream.closed


async def test_an_unexpected_failure_is_an_api_error_event() -> None:
    stream = Batches(ValueError("bug"))

    data = [piece async for piece in message_events(stream, "m")]

    assert events(data) == [
        ("error", {"type": "error", "error": {"type": "api_error", "message": "The stream failed"}})
    ]
    assert stream.closed


async def test_a_client_that_leaves_early_closes_the_upstream_stream() -> None:
    stream = Batches([delta(content="a")], [delta(content="b")])
    events_out = message_events(stream, "m")

    await events_out.__anext__()
    await events_out.aclose()

    assert stream.closed
