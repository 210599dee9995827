"""An SSE reply as the server is asked to write it: the first event at once, then the events a batch at a
time as they come, `[DONE]` with the end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from adapters.http.sse import DONE, EventStream, sse_events
from domain.completions import ChunkChoice, CompletionChunk, Delta
from ports.llm_provider import ChunkStream


async def _written(events: AsyncGenerator[bytes, None]) -> list[tuple[bytes, bool]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        await asyncio.Event().wait()  # the client stays

    await EventStream(events, {}).to_asgi_response()({}, receive, send)
    assert sent[0]["type"] == "http.response.start"
    return [(message["body"], message["more_body"]) for message in sent[1:]]


async def test_the_done_event_goes_with_the_end_of_the_body_in_one_message() -> None:
    closed = []

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            yield b"data: 1\n\n"
            yield b"data: 2\n\n"
            yield DONE
        finally:
            closed.append(True)

    assert await _written(events()) == [(b"data: 1\n\n", True), (b"data: 2\n\n", True), (DONE, False)]
    assert closed == [True]


async def test_a_stream_without_done_ends_with_an_empty_last_message() -> None:
    async def events() -> AsyncGenerator[bytes, None]:
        yield b"event: message_stop\ndata: {}\n\n"

    assert await _written(events()) == [(b"event: message_stop\ndata: {}\n\n", True), (b"", False)]


class _Batches(ChunkStream):
    def __init__(self, *batches: Sequence[CompletionChunk]) -> None:
        self._batches = batches

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        for batch in self._batches:
            yield batch

    async def aclose(self) -> None:
        pass


def _chunk(text: str) -> CompletionChunk:
    return CompletionChunk("c", 1, "m", (ChunkChoice(0, Delta(content=text)),))


async def test_a_streams_first_chunk_is_written_alone_then_each_batch_together() -> None:
    stream = _Batches([_chunk("a"), _chunk("b"), _chunk("c")], [_chunk("d"), _chunk("e")])

    pieces = [piece async for piece in sse_events(stream)]

    texts = [
        [json.loads(event[6:])["choices"][0]["delta"]["content"] for event in piece.split(b"\n\n") if event]
        for piece in pieces[:-1]
    ]
    assert texts == [["a"], ["b", "c"], ["d", "e"]]
    assert pieces[-1] == DONE
