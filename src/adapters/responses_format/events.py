"""Domain chunk streams as the Responses API's server-sent events, or a native stream's own bytes as
they came."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import orjson
import structlog

from adapters.responses_format.render import failed_response
from adapters.responses_format.requests import ResponsesCall
from adapters.responses_format.writer import ResponseEventWriter
from domain.errors import BadGatewayError, InternalServerError, SwitchyardError
from ports.llm_provider import ChunkStream

_log = structlog.get_logger("switchyard.http")
Finished = Callable[[dict[str, Any]], Awaitable[None]]
_TERMINAL = (b"response.completed", b"response.incomplete", b"response.failed")
_SEQUENCE = re.compile(rb'"sequence_number"\s*:\s*(\d+)')


async def response_events(
    stream: ChunkStream, call: ResponsesCall, *, response_id: str, created_at: int, finished: Finished
) -> AsyncGenerator[bytes, None]:
    """The stream as the Responses API's events, one bytes object per batch of chunks that arrived
    together. `finished` gets the whole response (reasoning's encrypted content included) before the
    event that ends the stream goes out; the client's events show what `call.include` asks for.

    Chunks that carry the upstream's own bytes (`native`: a Responses-API deployment asked natively)
    are written as they came, and from the first of them on the stream is that upstream's alone;
    `finished` then gets the response of its terminal event. A failure ends the stream with
    `response.failed`; the stream is closed however the iteration ends."""
    writer = ResponseEventWriter(call, response_id, created_at)
    native: _NativeStream | None = None
    try:
        async for batch in stream.batches():
            out: list[bytes] = []
            for chunk in batch:
                if chunk.native is not None:
                    if native is None:
                        native = _NativeStream()
                    if chunk.native:
                        out.append(chunk.native)
                        await native.read(chunk.native, finished)
                elif native is None:
                    writer.feed(chunk, out)
            if out:
                yield out[0] if len(out) == 1 else b"".join(out)
        if native is None:
            out = []
            body = writer.finish(out)
            writer.done = True
            await finished(body)
            out.append(writer.terminal(body))
            yield b"".join(out)
        elif not native.ended:
            raise BadGatewayError("The upstream's stream ended before its response did")
    except SwitchyardError as exc:
        async for data in _failure(exc, writer, native, call, finished):
            yield data
    except Exception as exc:
        _log.exception("stream failed", error=repr(exc))
        async for data in _failure(InternalServerError("The stream failed"), writer, native, call, finished):
            yield data
    finally:
        await stream.aclose()


async def _failure(
    error: SwitchyardError,
    writer: ResponseEventWriter,
    native: _NativeStream | None,
    call: ResponsesCall,
    finished: Finished,
) -> AsyncGenerator[bytes, None]:
    """The `response.failed` event that ends a stream which failed after it began (the status line is
    long gone), once `finished` has the failed response."""
    if native is not None:
        if native.ended:
            return
        native.ended = True
        response_id = native.response_id() or writer.response_id
        body = failed_response(call, response_id=response_id, created_at=writer.created_at, error=error)
        await finished(body)
        payload = {"type": "response.failed", "sequence_number": native.next_sequence(), "response": body}
        yield b"event: response.failed\ndata: " + orjson.dumps(payload) + b"\n\n"
        return
    if writer.done:
        return  # the response ended already: what failed came after it
    writer.done = True
    out: list[bytes] = []
    body = writer.fail(error, out)
    await finished(body)
    out.append(writer.terminal(body))
    yield b"".join(out)


class _NativeStream:
    """A Responses-API upstream's own stream, watched for the event that ends it."""

    __slots__ = ("ended", "first", "last")

    def __init__(self) -> None:
        self.ended = False
        self.first: bytes | None = None
        self.last = b""

    async def read(self, data: bytes, finished: Finished) -> None:
        """Hands `finished` the response of the terminal event `data` holds, if it holds one."""
        if self.first is None:
            self.first = data
        self.last = data
        if self.ended or not any(name in data for name in _TERMINAL):
            return
        for event in _events(data):
            if event.get("type") in ("response.completed", "response.incomplete", "response.failed"):
                response = event.get("response")
                if isinstance(response, dict):
                    self.ended = True
                    await finished(response)
                    return

    def response_id(self) -> str | None:
        for event in _events(self.first or b""):
            response = event.get("response")
            if isinstance(response, dict) and isinstance(response.get("id"), str):
                return response["id"]
        return None

    def next_sequence(self) -> int:
        found = _SEQUENCE.findall(self.last)
        return int(found[-1]) + 1 if found else 0


def _events(data: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of the whole SSE events in `data`."""
    found = []
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [line[5:].lstrip(b" ") for line in block.split(b"\n") if line.startswith(b"data:")]
        if not lines:
            continue
        try:
            payload = orjson.loads(b"\n".join(lines))
        except orjson.JSONDecodeError:
            continue
        if isinstance(payload, dict):
            found.append(payload)
    return found
