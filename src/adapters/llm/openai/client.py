"""The OpenAI provider: chat, streamed chat and embeddings over one pooled httpx client."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, ClassVar

import httpx
import orjson

from adapters.llm.openai import mapping
from adapters.llm.openai.errors import transport_errors, upstream_error
from adapters.llm.sse import sse_event_batches
from adapters.openai_format import read_chunk, read_embeddings, read_response
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError, BadRequestError
from ports.llm_provider import ChunkStream, LLMProvider


class OpenAIProvider(LLMProvider):
    """Speaks OpenAI's API to `deployment.api_base` (OpenAI's own by default). The client is the
    composition root's, pooled per upstream; each call brings its deployment's key and timeouts."""

    name: ClassVar[str] = "openai"
    supports_embeddings: ClassVar[bool] = True

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        # An OpenAI-compatible host refuses what its row in the hosts table says it does.
        return mapping.unsupported(request, deployment)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        # The method called decides whether the upstream streams, whatever the request's flag says.
        if request.stream:
            request = dataclasses.replace(request, stream=False)
        body = mapping.chat_body(request, deployment)
        return read_response(await self._post(deployment, "/chat/completions", body))

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        body = mapping.embedding_body(request, deployment)
        return read_embeddings(await self._post(deployment, "/embeddings", body))

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        if not request.stream:
            request = dataclasses.replace(request, stream=True)
        limits = deployment.limits
        http_request = httpx.Request(
            "POST",
            self._url(deployment, "/chat/completions"),
            content=_encode(mapping.chat_body(request, deployment)),
            headers=await self._headers(deployment),
            extensions={
                "timeout": mapping.timeouts(limits.timeout, limits.connect_timeout, limits.stream_timeout)
            },
        )
        with transport_errors():
            response = await self._client.send(http_request, stream=True)
        try:
            if not response.is_success:
                with transport_errors():
                    content = await response.aread()
                raise upstream_error(response.status_code, content, response.headers)
            if response.headers.get("content-type", "").startswith("application/json"):
                # A host that answered a stream request with one JSON object: an error, or a refusal.
                with transport_errors():
                    payload = _decode(await response.aread())
                if isinstance(payload, dict) and payload.get("error"):
                    raise upstream_error(None, payload)
                raise BadGatewayError("The upstream answered a stream request without a stream.")
        except BaseException:
            await _close(response)
            raise
        return OpenAIChunkStream(response)

    async def _post(self, deployment: Deployment, path: str, body: dict[str, Any]) -> object:
        limits = deployment.limits
        # A request built directly and sent skips httpx's per-call merging of client defaults.
        http_request = httpx.Request(
            "POST",
            self._url(deployment, path),
            content=_encode(body),
            headers=await self._headers(deployment),
            extensions={"timeout": mapping.timeouts(limits.timeout, limits.connect_timeout, None)},
        )
        with transport_errors():
            # httpx times each read, not the whole call; the outer timer bounds the whole call.
            async with asyncio.timeout(limits.timeout):
                response = await self._client.send(http_request)
        if not response.is_success:
            raise upstream_error(response.status_code, response.content, response.headers)
        payload = _decode(response.content)
        if isinstance(payload, dict) and payload.get("error"):
            raise upstream_error(None, payload)
        return payload

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        """Where a call for `path` (/chat/completions, /embeddings) goes; hosts that route otherwise
        (Azure's deployments) override it."""
        return mapping.url(deployment, path)

    async def _headers(self, deployment: Deployment) -> dict[str, str]:
        """The call's headers, credentials included; hosts that authenticate otherwise (Azure's api-key,
        Entra ID tokens) override it."""
        return mapping.headers(deployment)


class OpenAIChunkStream(ChunkStream):
    """Chunks parsed from SSE events as they arrive, a batch per network read; closing it closes the
    upstream response."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        try:
            with transport_errors():
                async for events in sse_event_batches(self._response.aiter_bytes()):
                    batch: list[CompletionChunk] = []
                    failure: Exception | None = None
                    done = False
                    for event, data in events:
                        if data == b"[DONE]":
                            done = True
                            break
                        payload = _decode(data)
                        if event == "error" or (isinstance(payload, dict) and payload.get("error")):
                            failure = upstream_error(None, payload)
                            break
                        chunk = read_chunk(payload)
                        # A chunk with neither a choice nor usage tells the client nothing (Azure opens
                        # its streams with one carrying only prompt_filter_results).
                        if chunk.choices or chunk.usage is not None:
                            batch.append(chunk)
                    if batch:
                        yield batch
                    if failure is not None:
                        raise failure
                    if done or self._closed:
                        return
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await _close(self._response)


async def _close(response: httpx.Response) -> None:
    # Closing is best effort: the reply is abandoned either way, and a failure to close must not
    # replace the error (or the cancellation) that made us close it.
    with contextlib.suppress(httpx.HTTPError):
        await response.aclose()


def _decode(content: bytes | str) -> object:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        shown = content[:200] if isinstance(content, str) else content[:200].decode("utf-8", "replace")
        raise BadGatewayError(f"The upstream sent a body that is not JSON: {shown!r}") from exc


def _encode(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        # What a client can send and orjson cannot write: integers beyond 64 bits, lone surrogates,
        # nesting deeper than 254 levels.
        raise BadRequestError(f"The request cannot be sent upstream as JSON: {exc}") from exc
