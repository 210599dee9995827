"""The Cohere provider: v2 chat (whole and streamed) and embed, over one pooled httpx client."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, ClassVar

import httpx

from adapters.llm import json_io
from adapters.llm.cohere import mapping
from adapters.llm.cohere.errors import upstream_error
from adapters.llm.openai.errors import transport_errors
from adapters.llm.openai.mapping import timeouts
from adapters.llm.sse import sse_event_batches
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError, SwitchyardError
from ports.llm_provider import ChunkStream, LLMProvider


class CohereProvider(LLMProvider):
    """Speaks Cohere's v2 API to `deployment.api_base` (https://api.cohere.com by default) with the
    deployment's key as a bearer token."""

    name: ClassVar[str] = "cohere"
    supports_embeddings: ClassVar[bool] = True

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return mapping.unsupported(request)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        body = mapping.chat_body(request, deployment, stream=False)
        payload = await self._post(deployment, "/v2/chat", body)
        return mapping.read_response(payload, model=deployment.upstream_model, created=int(time.time()))

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        payload = await self._post(deployment, "/v2/embed", mapping.embed_body(request, deployment))
        return mapping.read_embeddings(payload, model=deployment.upstream_model)

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        limits = deployment.limits
        headers = mapping.headers(deployment)
        headers["Accept"] = "text/event-stream"
        http_request = httpx.Request(
            "POST",
            mapping.url(deployment, "/v2/chat"),
            content=json_io.encode(mapping.chat_body(request, deployment, stream=True)),
            headers=headers,
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
                raise BadGatewayError("Cohere answered a stream request without a stream.")
        except BaseException:
            await json_io.close_quietly(response)
            raise
        reader = mapping.StreamReader(
            model=deployment.upstream_model,
            created=int(time.time()),
            fallback_id=f"cohere-{uuid.uuid4().hex}",
        )
        return CohereChunkStream(response, reader)

    async def _post(self, deployment: Deployment, path: str, body: dict[str, Any]) -> object:
        limits = deployment.limits
        http_request = httpx.Request(
            "POST",
            mapping.url(deployment, path),
            content=json_io.encode(body),
            headers=mapping.headers(deployment),
            extensions={"timeout": timeouts(limits.timeout, limits.connect_timeout, None)},
        )
        with transport_errors():
            async with asyncio.timeout(limits.timeout):  # httpx times each read; this, the whole call
                response = await self._client.send(http_request)
        if not response.is_success:
            raise upstream_error(response.status_code, response.content, response.headers)
        return json_io.decode(response.content)


class CohereChunkStream(ChunkStream):
    """Chunks read from Cohere's SSE events as they arrive, a batch per network read; closing it closes
    the upstream response."""

    def __init__(self, response: httpx.Response, reader: mapping.StreamReader) -> None:
        self._response = response
        self._reader = reader
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
                    ended = False
                    for _, data in events:
                        if data == b"[DONE]":
                            ended = True
                            break
                        try:
                            chunk = self._reader.read(json_io.decode(data))
                        except SwitchyardError as exc:  # a failed generation or a malformed event
                            failure = exc
                            break
                        if chunk is not None:
                            batch.append(chunk)
                            if chunk.choices[0].finish_reason is not None:
                                ended = True  # message-end is the last event that matters
                    if batch:
                        yield batch
                    if failure is not None:
                        raise failure
                    if ended or self._closed:
                        return
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await json_io.close_quietly(self._response)
