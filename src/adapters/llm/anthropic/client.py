"""The Anthropic provider: chat and streamed chat over the Messages API, on one pooled httpx client."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, ClassVar

import httpx
import orjson

from adapters.llm.anthropic import mapping
from adapters.llm.anthropic.errors import upstream_error
from adapters.llm.anthropic.replies import StreamTranslator, read_message, truncated
from adapters.llm.openai.errors import transport_errors
from adapters.llm.openai.mapping import timeouts
from adapters.llm.sse import sse_event_batches
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.errors import BadGatewayError, BadRequestError, SwitchyardError
from ports.llm_provider import ChunkStream, LLMProvider


class AnthropicProvider(LLMProvider):
    """Speaks Anthropic's Messages API at `{api_base}/v1/messages` (https://api.anthropic.com by default).
    Embeddings are refused: Anthropic serves none."""

    name: ClassVar[str] = "anthropic"
    supports_embeddings: ClassVar[bool] = False

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return mapping.unsupported_params(request, deployment)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        outgoing = mapping.messages_request(request, deployment, stream=False)
        limits = deployment.limits
        # A request built directly and sent skips httpx's per-call merging of client defaults.
        http_request = httpx.Request(
            "POST",
            mapping.url(deployment),
            content=_encode(outgoing.body),
            headers=mapping.headers(deployment, request),
            extensions={"timeout": timeouts(limits.timeout, limits.connect_timeout, None)},
        )
        with transport_errors():
            # httpx times each read, not the whole call; the outer timer bounds the whole call.
            async with asyncio.timeout(limits.timeout):
                response = await self._client.send(http_request)
        if not response.is_success:
            raise upstream_error(response.status_code, response.content, response.headers)
        payload = _decode(response.content)
        if isinstance(payload, dict) and payload.get("type") == "error":
            raise upstream_error(None, payload)
        return read_message(payload, outgoing.json_tool)

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        outgoing = mapping.messages_request(request, deployment, stream=True)
        limits = deployment.limits
        http_request = httpx.Request(
            "POST",
            mapping.url(deployment),
            content=_encode(outgoing.body),
            headers=mapping.headers(deployment, request),
            extensions={"timeout": timeouts(limits.timeout, limits.connect_timeout, limits.stream_timeout)},
        )
        with transport_errors():
            response = await self._client.send(http_request, stream=True)
        try:
            if not response.is_success:
                with transport_errors():
                    content = await response.aread()
                raise upstream_error(response.status_code, content, response.headers)
            if response.headers.get("content-type", "").startswith("application/json"):
                # A stream request answered with one JSON object: an error, or a proxy's refusal.
                with transport_errors():
                    payload = _decode(await response.aread())
                if isinstance(payload, dict) and payload.get("type") == "error":
                    raise upstream_error(None, payload)
                raise BadGatewayError("Anthropic answered a stream request without a stream.")
        except BaseException:
            await _close(response)
            raise
        return AnthropicChunkStream(response, StreamTranslator(outgoing.json_tool))


class AnthropicChunkStream(ChunkStream):
    """Chunks translated from SSE events as they arrive, a batch per network read; closing it closes
    the upstream response. A stream that ends before message_stop raises BadGatewayError."""

    def __init__(self, response: httpx.Response, translator: StreamTranslator) -> None:
        self._response = response
        self._translator = translator
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        translator = self._translator
        feed = translator.feed
        try:
            with transport_errors():
                async for events in sse_event_batches(self._response.aiter_bytes()):
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
                                upstream_error(None, data) if event == "error" else _malformed(data, exc)
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
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await _close(self._response)


def _malformed(data: bytes, exc: Exception) -> BadGatewayError:
    shown = data[:200].decode("utf-8", "replace")
    error = BadGatewayError(f"Anthropic sent a malformed stream event: {shown!r}")
    error.__cause__ = exc
    return error


async def _close(response: httpx.Response) -> None:
    # Best effort: the reply is abandoned either way, and a failure to close must not replace the error
    # (or the cancellation) that made us close it.
    with contextlib.suppress(httpx.HTTPError):
        await response.aclose()


def _decode(content: bytes) -> object:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        shown = content[:200].decode("utf-8", "replace")
        raise BadGatewayError(f"Anthropic sent a body that is not JSON: {shown!r}") from exc


def _encode(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        # What a client can send and orjson cannot write: integers beyond 64 bits, lone surrogates, ...
        raise BadRequestError(f"The request cannot be sent upstream as JSON: {exc}") from exc
