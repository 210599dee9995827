"""A native stream: the upstream's SSE bytes kept whole, event by event, on the chunks they translate
to, so that an Anthropic client gets Anthropic's stream exactly as it was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx

from adapters.llm import http_calls
from adapters.llm.anthropic.replies import StreamTranslator
from adapters.llm.native_events import native_batches
from domain.completions import CompletionChunk


class AnthropicNativeChunkStream(http_calls.ResponseChunkStream):
    """Chunks translated from SSE events as they arrive, a batch per network read, each carrying in
    `native` the bytes read since the chunk before it; bytes of events that translate to nothing
    (ping, content_block_stop, message_delta) left at the end of a read go out on a chunk of their own
    with no choices. So the `native` bytes of all chunks, joined, are the upstream's stream (`events`:
    its SSE bytes as the envelope reads them), up to an error event (raised as its domain error, for
    the caller to render) or a malformed event (raised as BadGatewayError). A stream that ends before
    message_stop raises BadGatewayError."""

    def __init__(
        self, response: httpx.Response, translator: StreamTranslator, events: AsyncIterator[bytes]
    ) -> None:
        super().__init__(response)
        self._translator = translator
        self._events = events

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        async with self._reading():
            stopped = lambda: self._closed  # noqa: E731
            async for batch in native_batches(self._events, self._translator, stopped):
                yield batch
