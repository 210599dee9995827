"""The Ollama provider: `/api/chat` (whole, or streamed as NDJSON) and `/api/embed`, over one pooled
httpx client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Collection, Sequence
from typing import Any, ClassVar

import httpx

from adapters.llm import json_io
from adapters.llm.ollama import mapping
from adapters.llm.ollama.errors import upstream_error
from adapters.llm.openai.errors import transport_errors
from adapters.llm.openai.mapping import timeouts
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import SwitchyardError
from ports.llm_provider import ChunkStream, LLMProvider


class OllamaProvider(LLMProvider):
    """Speaks Ollama's native API to `deployment.api_base` (http://localhost:11434 by default); a key,
    when configured, goes as a bearer token (Ollama's cloud, or a proxy)."""

    name: ClassVar[str] = "ollama"
    supports_embeddings: ClassVar[bool] = True

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return mapping.unsupported(request)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        body = mapping.chat_body(request, deployment, stream=False)
        payload = await self._post(deployment, "/api/chat", body)
        return mapping.read_response(payload, model=deployment.upstream_model, call_id=mapping.new_call_id())

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        payload = await self._post(deployment, "/api/embed", mapping.embed_body(request, deployment))
        return mapping.read_embeddings(payload, model=deployment.upstream_model)

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        limits = deployment.limits
        http_request = httpx.Request(
            "POST",
            mapping.url(deployment, "/api/chat"),
            content=json_io.encode(mapping.chat_body(request, deployment, stream=True)),
            headers=mapping.headers(deployment),
            extensions={"timeout": timeouts(limits.timeout, limits.connect_timeout, limits.stream_timeout)},
        )
        with transport_errors():
            response = await self._client.send(http_request, stream=True)
        whole: bytes | None = None
        if not response.is_success or response.headers.get("content-type", "").startswith("application/json"):
            try:
                with transport_errors():
                    whole = await response.aread()
            finally:
                await json_io.close_quietly(response)
            if not response.is_success:
                raise upstream_error(response.status_code, whole, response.headers)
            # One JSON object instead of a stream: an error, or a whole reply read as a one-line stream.
            payload = json_io.decode(whole)
            if isinstance(payload, dict) and payload.get("error"):
                raise upstream_error(None, payload)
        reader = mapping.StreamReader(model=deployment.upstream_model, call_id=mapping.new_call_id())
        return OllamaChunkStream(response, reader, whole)

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
        payload = json_io.decode(response.content)
        if isinstance(payload, dict) and payload.get("error"):
            raise upstream_error(None, payload)
        return payload


class OllamaChunkStream(ChunkStream):
    """Chunks read from Ollama's NDJSON lines as they arrive, a batch per network read; closing it
    closes the upstream response."""

    def __init__(
        self, response: httpx.Response, reader: mapping.StreamReader, whole: bytes | None = None
    ) -> None:
        self._response = response
        self._reader = reader
        self._whole = whole
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
                pieces = self._response.aiter_bytes() if self._whole is None else _once(self._whole)
                async for lines in _line_batches(pieces):
                    batch: list[CompletionChunk] = []
                    failure: SwitchyardError | None = None
                    for line in lines:
                        try:
                            chunk = self._reader.read(json_io.decode(line))
                        except SwitchyardError as exc:  # an error line, or one that is no JSON
                            failure = exc
                            break
                        if chunk is not None:
                            batch.append(chunk)
                    if batch:
                        yield batch
                    if failure is not None:
                        raise failure
                    if self._closed or (batch and batch[-1].choices[0].finish_reason is not None):
                        return  # the `done` line is the last
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await json_io.close_quietly(self._response)


async def _line_batches(pieces: AsyncIterable[bytes]) -> AsyncIterator[list[bytes]]:
    """The non-blank lines of an NDJSON body, a list per network read that completed any; a last line
    without its newline still counts."""
    buffer = b""
    async for piece in pieces:
        buffer = buffer + piece if buffer else piece
        if b"\n" not in piece:
            continue
        *lines, buffer = buffer.split(b"\n")
        complete = [line for line in lines if line.strip()]
        if complete:
            yield complete
    if buffer.strip():
        yield [buffer]


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body
