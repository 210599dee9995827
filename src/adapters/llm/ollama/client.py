"""The Ollama provider: `/api/chat` (whole, or streamed as NDJSON) and `/api/embed`, over one pooled
httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Collection, Sequence
from typing import Any, ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.json_io import decode, encode
from adapters.llm.ollama import mapping
from adapters.llm.ollama.errors import upstream_error
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
        response = await http_calls.open_stream(
            self._client,
            mapping.url(deployment, "/api/chat"),
            encode(mapping.chat_body(request, deployment, stream=True)),
            mapping.headers(deployment),
            limits=deployment.limits,
            failed=upstream_error,
        )
        whole: bytes | None = None
        if http_calls.is_json(response):
            # One JSON object instead of a stream: an error, or a whole reply read as a one-line stream.
            whole = await http_calls.read_and_close(response)
            payload = decode(whole)
            if isinstance(payload, dict) and payload.get("error"):
                raise upstream_error(None, payload)
        reader = mapping.StreamReader(model=deployment.upstream_model, call_id=mapping.new_call_id())
        return OllamaChunkStream(response, reader, whole)

    async def _post(self, deployment: Deployment, path: str, body: dict[str, Any]) -> object:
        response = await http_calls.post(
            self._client,
            mapping.url(deployment, path),
            encode(body),
            mapping.headers(deployment),
            limits=deployment.limits,
            failed=upstream_error,
        )
        payload = decode(response.content)
        if isinstance(payload, dict) and payload.get("error"):
            raise upstream_error(None, payload)
        return payload


class OllamaChunkStream(http_calls.ResponseChunkStream):
    """Chunks read from Ollama's NDJSON lines as they arrive, a batch per network read; `whole`, a body
    already read (one JSON object), is read as a one-line stream."""

    def __init__(
        self, response: httpx.Response, reader: mapping.StreamReader, whole: bytes | None = None
    ) -> None:
        super().__init__(response)
        self._reader = reader
        self._whole = whole

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        async with self._reading():
            pieces = self._response.aiter_bytes() if self._whole is None else _once(self._whole)
            async for lines in _line_batches(pieces):
                batch: list[CompletionChunk] = []
                failure: SwitchyardError | None = None
                for line in lines:
                    try:
                        chunk = self._reader.read(decode(line))
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
