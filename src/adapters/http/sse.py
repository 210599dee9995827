"""Server-sent events: chunks written as they arrive, `[DONE]` at the end, errors as a last event; a
client that hangs up cancels the upstream call at once. Other streamed bodies (speech) go the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any, Protocol

import orjson
import structlog
from litestar import Response
from litestar.types import Receive, Scope, Send

from adapters.http.client_watch import CLIENT_WATCH, ClientWatch
from adapters.openai_format import render_chunk, render_error
from adapters.openai_format.render import ChunkWriter
from domain.completions import CompletionChunk
from domain.errors import InternalServerError, SwitchyardError
from ports.llm_provider import ChunkStream

_log = structlog.get_logger("switchyard.http")
DONE = b"data: [DONE]\n\n"
# A body sent as it comes: neither cached nor held back by a proxy (nginx buffers unless told).
_STREAMED = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), *_STREAMED]


async def sse_events(
    stream: ChunkStream, render: Callable[[CompletionChunk], dict[str, Any]] = render_chunk
) -> AsyncGenerator[bytes, None]:
    """The stream's chunks as events, each rendered by `render` (a `chat.completion.chunk` unless told)."""
    write = ChunkWriter() if render is render_chunk else lambda chunk: orjson.dumps(render(chunk))
    try:
        opening = True
        async for batch in stream.batches():
            if opening and len(batch) > 1:
                yield b"data: " + write(batch[0]) + b"\n\n"
                await first_written()
                batch = batch[1:]
            opening = False
            # Chunks that arrived together leave together: one write, not one per chunk.
            yield b"".join([b"data: " + write(chunk) + b"\n\n" for chunk in batch])
        yield DONE
    except SwitchyardError as exc:
        # The status line is long gone: the error travels as the stream's last event, as OpenAI does.
        yield b"data: " + orjson.dumps(render_error(exc)) + b"\n\n"
    except Exception as exc:
        _log.exception("stream failed", error=repr(exc))
        yield b"data: " + orjson.dumps(render_error(InternalServerError("The stream failed"))) + b"\n\n"
    finally:
        await stream.aclose()


async def first_written() -> None:
    """Gives the loop a turn, for the first event of a stream just handed to the server to be written
    before the rest of its batch is rendered. The server writes what a response sends within one turn
    at its end (server_protocol.py), so an upstream read that brought the whole reply would otherwise
    hold the first byte until the last chunk was rendered and the call recorded: a stream's first chunk
    left 1.6 ms after the request without this, 0.8 ms with it (bench `stream`, one connection); the
    second write costs ~20 us."""
    await asyncio.sleep(0)


class Pieces(Protocol):
    """What a streamed body is written from: its bytes as they come, and a close that ends their source."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class ByteStream(Response[bytes]):
    """A 200 reply whose body is written piece by piece as `pieces` yields them, after the `head`
    headers; a client that hangs up stops it at once, and `pieces` is closed however it ends.

    Its own small ASGI body rather than Litestar's `Stream`: that one runs an anyio task group per
    response, which costs a stream as much again as the rest of its framing (measured in bench/)."""

    def __init__(self, pieces: Pieces, headers: Mapping[str, str], head: list[tuple[bytes, bytes]]) -> None:
        super().__init__(b"", status_code=200, headers=dict(headers))
        self._events = pieces
        self._head = head
        self.on_end: Callable[[], None] | None = None
        """Called once the stream has ended, however it ended."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> _EventStreamBody:  # type: ignore[override]
        headers = self._head + [(name.encode(), value.encode()) for name, value in self.headers.items()]
        return _EventStreamBody(self._events, headers, self.on_end)


class EventStream(ByteStream):
    """A `text/event-stream` reply of the given events."""

    def __init__(self, events: AsyncGenerator[bytes, None], headers: Mapping[str, str]) -> None:
        super().__init__(events, headers, _SSE_HEADERS)


def streamed_head(media_type: str) -> list[tuple[bytes, bytes]]:
    """The headers of a ByteStream of another kind than events (audio, say), sent as it comes."""
    return [(b"content-type", media_type.encode()), *_STREAMED]


class _EventStreamBody:
    __slots__ = ("_events", "_headers", "_on_end")

    def __init__(
        self,
        events: Pieces,
        headers: list[tuple[bytes, bytes]],
        on_end: Callable[[], None] | None,
    ) -> None:
        self._events = events
        self._headers = headers
        self._on_end = on_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with HangUp(receive, scope) as call:
                await send({"type": "http.response.start", "status": 200, "headers": self._headers})
                last = b""
                async for data in self._events:
                    if data is DONE:
                        # An event stream's last event goes with the end of the body: one send, not two
                        # (the call was recorded before it was yielded; what is left is closing).
                        last = data
                        break
                    await send({"type": "http.response.body", "body": data, "more_body": True})
                call.finished = True
                await send({"type": "http.response.body", "body": last, "more_body": False})
        finally:
            try:
                await self._events.aclose()  # runs the generator's cleanup: the upstream call is closed
            finally:
                if self._on_end is not None:
                    self._on_end()


class HangUp:
    """While entered, a client that hangs up before `finished` is set cancels the running task; that
    cancellation ends the block quietly (the reply simply stops), any other propagates. Told by the
    server's ClientWatch where the scope has one (adapters.http.server_protocol), else by a task that
    waits on `receive()` for the disconnect."""

    __slots__ = ("_gone", "_receive", "_task", "_watch", "_watcher", "finished")

    def __init__(self, receive: Receive, scope: Scope | None = None) -> None:
        self._receive = receive
        self._task = asyncio.current_task()
        self._gone = False
        self._watch: ClientWatch | None = None if scope is None else scope.get(CLIENT_WATCH)  # type: ignore[attr-defined]
        self._watcher: asyncio.Future[None] | None = None
        self.finished = False

    async def __aenter__(self) -> HangUp:
        if self._watch is not None:
            self._watch.add(self._left)
        else:
            self._watcher = asyncio.ensure_future(self._watched())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        if self._watch is not None:
            self._watch.discard(self._left)
        elif self._watcher is not None:
            self._watcher.cancel()
        if kind is asyncio.CancelledError and self._gone and self._task is not None:
            self._task.uncancel()  # our own cancellation, for a client that left: the call simply ends
            return True
        return False

    async def _watched(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._left()

    def _left(self) -> None:
        if not self.finished and not self._gone and self._task is not None:
            self._gone = True
            self._task.cancel()
