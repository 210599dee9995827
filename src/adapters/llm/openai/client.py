"""The OpenAI provider: chat, streamed chat and embeddings over one pooled httpx client; requests native to
the Responses API go through as sent to upstreams that serve it (see mapping.serves_responses)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any, ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.json_io import decode, encode
from adapters.llm.openai import mapping
from adapters.llm.openai.errors import upstream_error
from adapters.llm.sse import SseParser
from adapters.llm.upstream_errors import transport_errors
from adapters.openai_format import read_embeddings, read_response
from adapters.openai_format.audio import read_transcription, speech_body, transcription_form
from adapters.openai_format.images import image_body, read_images
from adapters.openai_format.moderations import moderation_body, read_moderation
from adapters.openai_format.replies import read_chunk_event
from adapters.openai_format.rerank import read_hosted_rerank, rerank_body
from adapters.openai_format.text_completions import (
    TEXT_COMPLETION,
    read_text_chunk,
    read_text_completion,
    text_completion_body,
)

# The module, not its names: it reads errors with this package's table, so each imports the other.
from adapters.responses_format import upstream as responses_upstream
from domain.audio import (
    SPEECH_FORMATS,
    SpeechRequest,
    SpeechResponse,
    TranscriptionRequest,
    TranscriptionResponse,
    speech_usage,
)
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, NativeRequest
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError, SwitchyardError
from domain.images import ImageRequest, ImageResponse
from domain.moderation import ModerationRequest, ModerationResponse
from domain.rerank import RerankRequest, RerankResponse
from ports.llm_provider import ChunkStream, LLMProvider


class OpenAIProvider(LLMProvider):
    """Speaks OpenAI's API to `deployment.api_base` (OpenAI's own by default). The client is the
    composition root's, pooled per upstream; each call brings its deployment's key and timeouts."""

    name: ClassVar[str] = "openai"
    supports_embeddings: ClassVar[bool] = True
    supports_moderation: ClassVar[bool] = True
    supports_rerank: ClassVar[bool] = True
    """Where the host serves `/rerank` (vLLM, TEI, Jina): deployments marked `mode: rerank`."""
    supports_images: ClassVar[bool] = True
    """Its `/images/generations` (Azure's per deployment): deployments marked `mode: image_generation`."""
    supports_transcription: ClassVar[bool] = True
    supports_speech: ClassVar[bool] = True
    """Audio for deployments marked (or named) as audio models: OpenAI's, Groq's whisper, Azure's."""
    native_format: ClassVar[str | None] = mapping.RESPONSES

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def speaks(self, format: str, deployment: Deployment) -> bool:
        # Every OpenAI-format upstream serves the legacy `/completions` (OpenAI, the compatible hosts, vLLM).
        if format == TEXT_COMPLETION:
            return True
        return format == mapping.RESPONSES and mapping.serves_responses(deployment)

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        # An OpenAI-compatible host refuses what its row in the hosts table says it does.
        return mapping.unsupported(request, deployment)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        native = mapping.native_responses(request, deployment)
        if native is not None:
            return await self._respond(native, deployment)
        if _text_completion(request):
            body = text_completion_body(request, deployment.upstream_model, stream=False)
            return read_text_completion(await self._post(deployment, "/completions", body))
        # The method called decides whether the upstream streams, whatever the request's flag says.
        if request.stream:
            request = dataclasses.replace(request, stream=False)
        body = mapping.chat_body(request, deployment)
        return read_response(await self._post(deployment, "/chat/completions", body))

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        body = mapping.embedding_body(request, deployment)
        return read_embeddings(await self._post(deployment, "/embeddings", body))

    async def moderate(self, request: ModerationRequest, deployment: Deployment) -> ModerationResponse:
        body = moderation_body(request, deployment.upstream_model)
        return read_moderation(await self._post(deployment, "/moderations", body))

    async def generate_images(self, request: ImageRequest, deployment: Deployment) -> ImageResponse:
        body = image_body(request, deployment.upstream_model)
        payload = await self._post(deployment, "/images/generations", body)
        return read_images(payload, deployment.upstream_model)

    async def rerank(self, request: RerankRequest, deployment: Deployment) -> RerankResponse:
        body = rerank_body(request, deployment.upstream_model)
        return read_hosted_rerank(await self._post(deployment, "/rerank", body), request)

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        native = mapping.native_responses(request, deployment)
        if native is not None:
            return await self._respond_streamed(native, deployment)
        if not request.stream:
            request = dataclasses.replace(request, stream=True)
        text = _text_completion(request)
        response = await http_calls.open_stream(
            self._client,
            self._url(deployment, "/completions" if text else "/chat/completions"),
            encode(
                text_completion_body(request, deployment.upstream_model, stream=True)
                if text
                else mapping.chat_body(request, deployment)
            ),
            await self._headers(deployment),
            limits=deployment.limits,
            failed=upstream_error,
            not_streamed=_not_streamed,
        )
        return TextChunkStream(response) if text else OpenAIChunkStream(response)

    async def _respond(self, native: NativeRequest, deployment: Deployment) -> CompletionResponse:
        """A Responses API request sent as the client sent it; the reply read with `native` as received."""
        body = mapping.responses_body(native, deployment, stream=False)
        headers = await self._headers(deployment) | mapping.extra_headers(deployment)
        payload = await self._send(deployment, "/responses", body, headers)
        return responses_upstream.read_response(payload)

    async def _respond_streamed(self, native: NativeRequest, deployment: Deployment) -> ChunkStream:
        response = await http_calls.open_stream(
            self._client,
            self._url(deployment, "/responses"),
            encode(mapping.responses_body(native, deployment, stream=True)),
            await self._headers(deployment) | mapping.extra_headers(deployment),
            limits=deployment.limits,
            failed=upstream_error,
            not_streamed=_not_streamed,
        )
        return ResponsesChunkStream(response)

    async def _post(self, deployment: Deployment, path: str, body: dict[str, Any]) -> object:
        payload = await self._send(deployment, path, body, await self._headers(deployment))
        if isinstance(payload, dict) and payload.get("error"):
            raise upstream_error(None, payload)
        return payload

    async def _send(
        self, deployment: Deployment, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> object:
        response = await http_calls.post(
            self._client,
            self._url(deployment, path),
            encode(body),
            headers,
            limits=deployment.limits,
            failed=upstream_error,
        )
        return decode(response.content)

    async def transcribe(
        self, request: TranscriptionRequest, deployment: Deployment
    ) -> TranscriptionResponse:
        path = "/audio/translations" if request.translate else "/audio/transcriptions"
        content, content_type = _multipart(transcription_form(request, deployment.upstream_model), request)
        headers = {**await self._headers(deployment), "Content-Type": content_type}
        response = await http_calls.post(
            self._client, self._url(deployment, path), content, headers,
            limits=deployment.limits, failed=upstream_error,
        )  # fmt: skip
        return read_transcription(response.content, request, deployment.upstream_model)

    async def speak(self, request: SpeechRequest, deployment: Deployment) -> SpeechResponse:
        response = await http_calls.open_stream(
            self._client,
            self._url(deployment, "/audio/speech"),
            encode(speech_body(request, deployment.upstream_model)),
            await self._headers(deployment),
            limits=deployment.limits,
            failed=upstream_error,
        )
        content_type = response.headers.get("content-type") or SPEECH_FORMATS[request.response_format]
        return SpeechResponse(
            deployment.upstream_model, content_type, _audio(response), speech_usage(request)
        )

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        """Where a call for `path` (/chat/completions, /embeddings, /responses) goes; hosts that route
        otherwise (Azure's deployments) override it."""
        return mapping.url(deployment, path)

    async def _headers(self, deployment: Deployment) -> dict[str, str]:
        """The call's headers, credentials included; hosts that authenticate otherwise (Azure's api-key,
        Entra ID tokens) override it."""
        return mapping.headers(deployment)


class OpenAIChunkStream(http_calls.ResponseChunkStream):
    """Chunks parsed from SSE events as they arrive, a batch per network read."""

    _read = staticmethod(read_chunk_event)

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        parser = SseParser()
        opening = True
        async with self._reading():
            pieces = aiter(self._response.aiter_bytes())
            ended = False
            while not ended:
                try:
                    piece = await anext(pieces)
                except StopAsyncIteration:
                    events, ended = parser.end(), True
                else:
                    while opening and (cut := _first_event_end(piece)) < len(piece):
                        # The first chunk goes on alone, and the loop is given a turn to write it, before
                        # the rest of its read is parsed: a read that brought the whole reply would
                        # otherwise hold the first byte until the last chunk was read too (see
                        # adapters.http.sse.first_written). Cut at an event's end, a read parses as it
                        # would whole.
                        batch, failure, done = self._chunks(parser.feed(piece[:cut]))
                        piece = piece[cut:]
                        if batch:
                            opening = False
                            yield batch
                        if failure is not None:
                            raise failure
                        if done or self._closed:
                            return
                        if not opening:
                            await asyncio.sleep(0)
                    events = parser.feed(piece)
                if not events:
                    continue
                batch, failure, done = self._chunks(events)
                if batch:
                    opening = False
                    yield batch
                if failure is not None:
                    raise failure
                if done or self._closed:
                    return

    def _chunks(
        self, events: list[tuple[str, bytes]]
    ) -> tuple[list[CompletionChunk], Exception | None, bool]:
        """The chunks `events` spell, the error that ended them if one did, and whether the stream's
        `[DONE]` came."""
        batch: list[CompletionChunk] = []
        read = self._read
        for event, data in events:
            if data == b"[DONE]":
                return batch, None, True
            chunk = None if event == "error" else read(data)
            if chunk is None:
                return batch, upstream_error(None, decode(data)), False
            # A chunk with neither a choice nor usage tells the client nothing (Azure opens its streams
            # with one carrying only prompt_filter_results).
            if chunk.choices or chunk.usage is not None:
                batch.append(chunk)
        return batch, None, False


def _first_event_end(piece: bytes) -> int:
    """Where the first event of a read ends (after its blank line), or the read's length when it holds
    no whole event or its line endings are not plain LFs."""
    end = piece.find(b"\n\n")
    return len(piece) if end < 0 or b"\r" in piece else end + 2


class TextChunkStream(OpenAIChunkStream):
    """A legacy `/completions` stream: each `text_completion` event read as a chunk of text."""

    @staticmethod
    def _read(data: bytes) -> CompletionChunk | None:
        payload = decode(data)
        return None if isinstance(payload, dict) and payload.get("error") else read_text_chunk(payload)


class ResponsesChunkStream(http_calls.ResponseChunkStream):
    """A Responses API stream: chunks read as events arrive, a batch per network read, each carrying in
    `native` the upstream's bytes since the chunk before it (see responses_format.upstream.read_stream)."""

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        reading = responses_upstream.read_stream(self._response.aiter_bytes())
        async with self._reading(), contextlib.aclosing(reading):
            async for batch in reading:
                yield batch
                if self._closed:
                    return


def _multipart(form: list[tuple[str, str]], request: TranscriptionRequest) -> tuple[bytes, str]:
    """The upload's body and its content type (with the boundary), encoded by httpx."""
    fields: dict[str, list[str]] = {}
    for name, value in form:
        fields.setdefault(name, []).append(value)
    upload = request.file
    file = (upload.filename, upload.content, upload.content_type)
    encoded = httpx.Request("POST", "http://upload", data=fields, files={"file": file})
    return encoded.read(), encoded.headers["Content-Type"]


async def _audio(response: httpx.Response) -> AsyncIterator[bytes]:
    """The speech's bytes as they arrive; the upstream reply closed when they end or the reader stops."""
    try:
        with transport_errors():
            async for chunk in response.aiter_bytes():
                yield chunk
    finally:
        await response.aclose()


def _text_completion(request: CompletionRequest) -> bool:
    native = request.native
    return native is not None and native.format == TEXT_COMPLETION


def _not_streamed(body: bytes) -> SwitchyardError:
    # A host that answered a stream request with one JSON object: an error, or a refusal.
    payload = decode(body)
    if isinstance(payload, dict) and payload.get("error"):
        return upstream_error(None, payload)
    return BadGatewayError("The upstream answered a stream request without a stream.")
