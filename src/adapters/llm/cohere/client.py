"""The Cohere provider: v2 chat (whole and streamed), embed and rerank, over one pooled httpx client."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Sequence
from typing import Any, ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.cohere import mapping
from adapters.llm.cohere.errors import upstream_error
from adapters.llm.cohere.rerank import cohere_rerank_body, read_rerank
from adapters.llm.json_io import close_quietly, decode, encode
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError
from domain.rerank import RerankRequest, RerankResponse
from ports.llm_provider import ChunkStream, LLMProvider


class CohereProvider(LLMProvider):
    """Speaks Cohere's v2 API to `deployment.api_base` (https://api.cohere.com by default) with the
    deployment's key as a bearer token."""

    name: ClassVar[str] = "cohere"
    supports_embeddings: ClassVar[bool] = True
    supports_rerank: ClassVar[bool] = True

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

    async def rerank(self, request: RerankRequest, deployment: Deployment) -> RerankResponse:
        payload = await self._post(
            deployment, "/v2/rerank", cohere_rerank_body(request, deployment.upstream_model)
        )
        return read_rerank(payload, request, deployment.upstream_model)

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        headers = mapping.headers(deployment)
        headers["Accept"] = "text/event-stream"
        response = await http_calls.open_stream(
            self._client,
            mapping.url(deployment, "/v2/chat"),
            encode(mapping.chat_body(request, deployment, stream=True)),
            headers,
            limits=deployment.limits,
            failed=upstream_error,
        )
        if http_calls.is_json(response):
            await close_quietly(response)
            raise BadGatewayError("Cohere answered a stream request without a stream.")
        reader = mapping.StreamReader(
            model=deployment.upstream_model,
            created=int(time.time()),
            fallback_id=f"cohere-{uuid.uuid4().hex}",
        )
        return CohereChunkStream(response, reader)

    async def _post(self, deployment: Deployment, path: str, body: dict[str, Any]) -> object:
        response = await http_calls.post(
            self._client,
            mapping.url(deployment, path),
            encode(body),
            mapping.headers(deployment),
            limits=deployment.limits,
            failed=upstream_error,
        )
        return decode(response.content)


class CohereChunkStream(http_calls.SseChunkStream):
    """Chunks read from Cohere's SSE events as they arrive, a batch per network read."""

    def __init__(self, response: httpx.Response, reader: mapping.StreamReader) -> None:
        super().__init__(response)
        self._reader = reader

    def _read_events(self, events: Sequence[tuple[str, bytes]], batch: list[CompletionChunk]) -> bool:
        ended = False
        for _, data in events:
            if data == b"[DONE]":
                return True
            chunk = self._reader.read(decode(data))  # a failed generation or a malformed event raises
            if chunk is not None:
                batch.append(chunk)
                if chunk.choices[0].finish_reason is not None:
                    ended = True  # message-end is the last event that matters
        return ended
