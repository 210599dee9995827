"""A native stream: the upstream's SSE bytes kept whole, event by event, on the chunks they translate
to, so that an Anthropic client gets Anthropic's stream exactly as it was sent."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence

import httpx
import orjson

from adapters.llm import http_calls
from adapters.llm.anthropic.errors import upstream_error
from adapters.llm.anthropic.replies import StreamTranslator, malformed_event, truncated
from adapters.llm.sse import parse_event, split_events
from domain.completions import CompletionChunk
from domain.errors import SwitchyardError


class AnthropicNativeChunkStream(http_calls.ResponseChunkStream):
    """Chunks translated from SSE events as they arrive, a batch per network read, each carrying in
    `native` the bytes read since the chunk before it; bytes of events that translate to nothing
    (ping, content_block_stop, message_delta) left at the end of a read go out on a chunk of their own
    with no choices. So the `native` bytes of all chunks, joined, are the upstream's stream, up to an
    error event (raised as its domain error, for the caller to render) or a malformed event (raised as
    BadGatewayError). A stream that ends before message_stop raises BadGatewayError."""

    def __init__(self, response: httpx.Response, translator: StreamTranslator) -> None:
        super().__init__(response)
        self._translator = translator

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        translator = self._translator
        buffer = b""
        async with self._reading():
            async for piece in self._response.aiter_bytes():
                buffer = buffer + piece if buffer else piece
                events, buffer = split_events(buffer)
                if not events:
                    continue
                batch: list[CompletionChunk] = []
                failure = self._translate(events, batch)
                if batch:
                    yield batch
                if failure is not None:
                    raise failure
                if translator.done or self._closed:
                    return
            if buffer:  # some hosts end without the last blank line
                batch = []
                failure = self._translate([buffer], batch)
                if batch:
                    yield batch
                if failure is not None:
                    raise failure
                if translator.done:
                    return
            raise truncated()

    def _translate(self, events: list[bytes], batch: list[CompletionChunk]) -> SwitchyardError | None:
        """Appends to `batch` the chunks of whole `events`, with their bytes; returns the error an event
        stands for, if one does (the events after it are not read)."""
        translator = self._translator
        pending: list[bytes] = []
        failure: SwitchyardError | None = None
        for raw in events:
            parsed = None if translator.done else parse_event(raw)
            if parsed is None:
                pending.append(raw)
                continue
            event, data = parsed
            made = len(batch)
            try:
                translator.feed(orjson.loads(data), batch)
            except SwitchyardError as exc:  # an `error` event
                failure = exc
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # An error event in another shape (a proxy's) is still the error it names.
                failure = upstream_error(None, data) if event == "error" else malformed_event(data, exc)
            if failure is not None:
                del batch[made:]
                break
            pending.append(raw)
            if len(batch) > made:
                batch[made] = dataclasses.replace(batch[made], native=b"".join(pending))
                pending = []
        if pending:
            batch.append(translator.bare(b"".join(pending)))
        return failure
