"""An SSE reply as the server is asked to write it: the first event at once, then the events a batch at a
time as they come, `[DONE]` with the end."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from adapters.http.client_watch import CLIENT_WATCH, ClientWatch
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


async def _streamed_until_the_client_leaves(*, gone_before: bool) -> tuple[list[bytes], list[bool]]:
    """A stream whose events keep coming, written for a client the server's ClientWatch reports lost
    (before the reply starts, or after its first event)."""
    watch = ClientWatch()
    closed: list[bool] = []
    bodies: list[bytes] = []
    if gone_before:
        watch.connection_lost()

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            while True:
                yield b"data: 1\n\n"
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            watch.connection_lost()

    async def receive() -> Any:
        raise AssertionError("the disconnect comes from the watch, not from receive()")

    await asyncio.wait_for(
        EventStream(events(), {}).to_asgi_response()({CLIENT_WATCH: watch}, receive, send), 2
    )
    return bodies, closed


async def test_a_client_the_server_reports_gone_ends_the_stream_and_closes_its_events() -> None:
    tasks = len(asyncio.all_tasks())

    bodies, closed = await _streamed_until_the_client_leaves(gone_before=False)

    assert bodies == [b"data: 1\n\n"] and closed == [True]
    assert len(asyncio.all_tasks()) == tasks  # no task was left waiting for the disconnect


async def test_a_client_gone_before_the_stream_began_ends_it_at_its_first_wait() -> None:
    # What is written before the stream first waits goes nowhere: the server drops it for a lost client.
    bodies, closed = await _streamed_until_the_client_leaves(gone_before=True)

    assert bodies == [b"data: 1\n\n"] and closed == [True]


def test_a_client_watch_forgets_what_was_discarded_and_calls_the_rest_once() -> None:
    watch, called = ClientWatch(), []
    kept, dropped = (lambda: called.append("kept")), (lambda: called.append("dropped"))
    watch.add(kept)
    watch.add(dropped)
    watch.discard(dropped)
    watch.discard(dropped)

    watch.connection_lost()
    watch.connection_lost()

    assert called == ["kept"]
