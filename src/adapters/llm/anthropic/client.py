"""The Anthropic provider: chat, streamed chat and token counts over the Messages API, on one pooled httpx
client; requests native to the Messages API go through as sent (see native.py). The host's envelope
(envelopes.py) carries the calls."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, ClassVar

import httpx
import orjson

from adapters.llm import http_calls
from adapters.llm.anthropic import mapping
from adapters.llm.anthropic.envelopes import AnthropicApi, Envelope
from adapters.llm.anthropic.errors import upstream_error
from adapters.llm.anthropic.native import FORMAT, count_tokens_body, native_body, native_of
from adapters.llm.anthropic.native_stream import AnthropicNativeChunkStream
from adapters.llm.anthropic.replies import StreamTranslator, malformed_event, read_message, truncated
from adapters.llm.json_io import decode
from adapters.llm.sse import sse_event_batches
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, NativeRequest
from domain.deployments import Deployment
from domain.errors import BadGatewayError, SwitchyardError
from ports.llm_provider import ChunkStream, LLMProvider


class AnthropicProvider(LLMProvider):
    """Speaks Anthropic's Messages API at `{api_base}/v1/messages` (https://api.anthropic.com by default)
    and counts tokens at `{api_base}/v1/messages/count_tokens`. Embeddings are refused: Anthropic serves
    none. Hosts that serve Claude behind another envelope (Vertex AI, Bedrock) are subclasses that name
    theirs (see envelopes.py)."""

    name: ClassVar[str] = "anthropic"
    supports_embeddings: ClassVar[bool] = False
    supports_count_tokens: ClassVar[bool] = True
    native_format: ClassVar[str | None] = FORMAT
    envelope: ClassVar[type[Envelope]] = AnthropicApi

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._envelope = self.envelope(client)

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return mapping.unsupported_params(request, deployment)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        native, body, json_tool = _outgoing(request, deployment, stream=False)
        envelope = self._envelope
        outbound = await envelope.outbound(deployment, request, body, stream=False)
        response = await envelope.post(deployment, outbound)
        payload = decode(response.content, envelope.host)
        if isinstance(payload, dict) and payload.get("type") == "error":
            raise upstream_error(None, payload)
        reply = read_message(payload, json_tool)
        return dataclasses.replace(reply, native=payload) if native is not None else reply

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        native, body, json_tool = _outgoing(request, deployment, stream=True)
        envelope = self._envelope
        outbound = await envelope.outbound(deployment, request, body, stream=True)
        response = await envelope.open_stream(deployment, outbound)
        events = envelope.events(response)
        if native is not None:
            return AnthropicNativeChunkStream(response, StreamTranslator(), events)
        return AnthropicChunkStream(response, StreamTranslator(json_tool), events)

    async def count_tokens(self, request: CompletionRequest, deployment: Deployment) -> int:
        envelope = self._envelope
        outbound = await envelope.count_tokens(deployment, request, count_tokens_body(request, deployment))
        response = await envelope.post(deployment, outbound)
        payload = decode(response.content, envelope.host)
        if isinstance(payload, dict):
            if payload.get("type") == "error":
                raise upstream_error(None, payload)
            count = payload.get("input_tokens")
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                return count
        shown = response.content[:200].decode("utf-8", "replace")
        raise BadGatewayError(f"{envelope.host} sent a token count without input_tokens: {shown!r}")


def _outgoing(
    request: CompletionRequest, deployment: Deployment, *, stream: bool
) -> tuple[NativeRequest | None, dict[str, Any], str | None]:
    """(the native request if it is one, the body to send, the name of the tool standing in for a JSON
    response format, if any)."""
    native = native_of(request)
    if native is not None:
        return native, native_body(native, deployment, stream=stream), None
    outgoing = mapping.messages_request(request, deployment, stream=stream)
    return None, outgoing.body, outgoing.json_tool


class AnthropicChunkStream(http_calls.ResponseChunkStream):
    """Chunks translated from SSE events as they arrive, a batch per network read. A stream that ends
    before message_stop raises BadGatewayError."""

    def __init__(
        self, response: httpx.Response, translator: StreamTranslator, events: AsyncIterator[bytes]
    ) -> None:
        super().__init__(response)
        self._translator = translator
        self._events = events

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        translator = self._translator
        feed = translator.feed
        async with self._reading():
            async for events in sse_event_batches(self._events):
                batch: list[CompletionChunk] = []
                failure: Exception | None = None
                for event, data in events:
                    try:
                        feed(orjson.loads(data), batch)
                    except SwitchyardError as exc:  # an `error` event
                        failure = exc
                    except (ValueError, KeyError, TypeError, AttributeError) as exc:
                        # An error event in another shape (a proxy's) is still the error it names.
                        failure = (
                            upstream_error(None, data) if event == "error" else malformed_event(data, exc)
                        )
                    if failure is not None or translator.done:
                        break
                if batch:
                    yield batch
                if failure is not None:
                    raise failure
                if translator.done or self._closed:
                    return
            raise truncated()
