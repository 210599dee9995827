"""The Gemini providers: Google AI Studio's Gemini API (`gemini/`, an API key) and Vertex AI's Gemini
models (`vertex_ai/`, OAuth2), one wire format and one mapping, over one pooled httpx client each."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.gemini import embeddings, images, mapping, replies
from adapters.llm.gemini.errors import google_error
from adapters.llm.gemini.vertex_access import VERTEX_LOCATION as VERTEX_LOCATION
from adapters.llm.gemini.vertex_access import VertexAccess, vertex_root
from adapters.llm.gemini.vertex_access import tokens_of as tokens_of
from adapters.llm.gemini.vertex_access import vertex_host as vertex_host
from adapters.llm.json_io import close_quietly, decode, encode
from adapters.llm.sse import sse_event_batches
from adapters.llm.upstream_errors import transport_errors
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, Usage
from domain.deployments import Deployment
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError, SwitchyardError
from domain.images import ImageRequest, ImageResponse
from ports.llm_provider import ChunkStream, LLMProvider

GEMINI_API_BASE = "https://generativelanguage.googleapis.com"
_STREAM = "streamGenerateContent?alt=sse"
_VERSIONED = re.compile(r"/v1(alpha|beta|beta1)?$")


class _GoogleProvider(LLMProvider):
    """What both Google APIs share: the body, the reply, the stream and the errors."""

    supports_embeddings: ClassVar[bool] = True
    supports_images: ClassVar[bool] = True  # Imagen through :predict, Gemini's image models generateContent
    vertex: ClassVar[bool] = False

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> list[str]:
        return mapping.unsupported(request, vertex=self.vertex)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        body = _body(request, deployment, vertex=self.vertex)
        payload = await self._post(deployment, "generateContent", body)
        return replies.read_response(payload, model=deployment.upstream_model, created=int(time.time()))

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        content = encode(_body(request, deployment, vertex=self.vertex))
        url, headers = await self._target(deployment, _STREAM)
        response = await http_calls.open_stream(
            self._client,
            url,
            content,
            headers,
            limits=deployment.limits,
            failed=functools.partial(self._failed, deployment),
            not_streamed=_not_streamed,
        )
        try:
            reader = replies.StreamReader(model=deployment.upstream_model, created=int(time.time()))
            stream = GeminiChunkStream(response, reader)
            # The first event decides what must fail up front: a blocked prompt, an error event.
            await stream.prime()
        except BaseException:
            await close_quietly(response)
            raise
        return stream

    async def generate_images(self, request: ImageRequest, deployment: Deployment) -> ImageResponse:
        """Imagen makes the `n` images in one :predict call; a Gemini image model makes one a
        generateContent call (it takes no candidateCount), so `n` calls are made at once."""
        model = deployment.upstream_model
        if not images.makes_images_by_content(model):
            payload = await self._post(deployment, "predict", images.predict_body(request, deployment))
            return images.read_images(payload, request, model)
        body = images.content_body(request, deployment)
        payloads = await asyncio.gather(
            *(self._post(deployment, "generateContent", body) for _ in range(request.count))
        )
        made, usage = [], Usage()
        for payload in payloads:
            found, used = images.read_content_images(payload, request)
            made.extend(found)
            usage += used
        return images.image_response(made, usage, request, model)

    async def _post(self, deployment: Deployment, method: str, body: dict[str, Any]) -> object:
        content = encode(body)
        url, headers = await self._target(deployment, method)
        response = await http_calls.post(
            self._client,
            url,
            content,
            headers,
            limits=deployment.limits,
            failed=functools.partial(self._failed, deployment),
        )
        payload = decode(response.content)
        if _is_error(payload):
            raise google_error(None, payload)
        return payload

    def _failed(self, deployment: Deployment, status: int, content: bytes, headers: Any) -> SwitchyardError:
        return google_error(status, content, headers)

    async def _embedded(
        self, deployment: Deployment, calls: list[tuple[str, dict[str, Any]]], expected: int
    ) -> EmbeddingResponse:
        payloads = await asyncio.gather(*(self._post(deployment, method, body) for method, body in calls))
        vectors: list[list[float]] = []
        tokens = 0
        for payload in payloads:
            found, counted = (replies.read_predictions if self.vertex else replies.read_embeddings)(payload)
            vectors.extend(found)
            tokens += counted
        if len(vectors) != expected:
            raise BadGatewayError(f"Gemini answered {len(vectors)} embeddings for {expected} inputs.")
        data = tuple(Embedding(index, vector) for index, vector in enumerate(vectors))
        usage = Usage(prompt_tokens=tokens)
        return EmbeddingResponse(model=deployment.upstream_model, data=data, usage=usage)

    @abstractmethod
    async def _target(self, deployment: Deployment, method: str) -> tuple[httpx.URL, dict[str, str]]:
        """The URL of `method` for the deployment's model, and the headers that authenticate the call."""


class GeminiProvider(_GoogleProvider):
    """The Gemini API at `{api_base}/v1beta/models/{model}:method`, keyed by `x-goog-api-key` (never by
    a `key=` in the URL, which would end up in logs)."""

    name: ClassVar[str] = "gemini"
    _BATCH: ClassVar[int] = 100  # batchEmbedContents takes at most 100 requests

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        texts = embeddings.embedding_texts(request)
        model = deployment.upstream_model
        calls = []
        for start in range(0, len(texts), self._BATCH):
            batch = texts[start : start + self._BATCH]
            method = "embedContent" if len(batch) == 1 else "batchEmbedContents"
            calls.append((method, embeddings.embed_body(request, model, batch)))
        return await self._embedded(deployment, calls, len(texts))

    async def _target(self, deployment: Deployment, method: str) -> tuple[httpx.URL, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        key = deployment.credentials.api_key
        if key is not None and key.value:
            headers["x-goog-api-key"] = key.value
        return gemini_url(deployment.api_base or GEMINI_API_BASE, deployment.upstream_model, method), headers


class VertexProvider(_GoogleProvider):
    """Vertex AI's Gemini models at `https://{location}-aiplatform.googleapis.com/v1/projects/{project}/
    locations/{location}/publishers/google/models/{model}:method` (`api_base` replaces the host), with a
    bearer token from the deployment's `vertex_credentials` or the machine's metadata server."""

    name: ClassVar[str] = "vertex_ai"
    vertex: ClassVar[bool] = True

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._access = VertexAccess(client)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        texts = embeddings.embedding_texts(request)
        # Vertex's Gemini embedding models take one text per :predict call, the text-embedding ones 250.
        size = 1 if "gemini-embedding" in deployment.upstream_model else 250
        calls = [
            ("predict", embeddings.predict_body(request, texts[start : start + size]))
            for start in range(0, len(texts), size)
        ]
        return await self._embedded(deployment, calls, len(texts))

    async def _target(self, deployment: Deployment, method: str) -> tuple[httpx.URL, dict[str, str]]:
        target = await self._access.target(deployment)
        url = vertex_url(
            deployment.api_base, target.project, target.location, deployment.upstream_model, method
        )
        return url, target.headers()

    def _failed(self, deployment: Deployment, status: int, content: bytes, headers: Any) -> SwitchyardError:
        self._access.refused(deployment, status)
        return super()._failed(deployment, status, content, headers)


class GeminiChunkStream(http_calls.ResponseChunkStream):
    """Chunks read from the SSE events of streamGenerateContent as they arrive, a batch per network
    read."""

    def __init__(self, response: httpx.Response, reader: replies.StreamReader) -> None:
        super().__init__(response)
        self._reader = reader
        self._events = sse_event_batches(response.aiter_bytes())
        self._primed: list[CompletionChunk] | None = None
        self._failure: SwitchyardError | None = None
        self._ended = False

    async def prime(self) -> None:
        """Reads up to the first chunk, so that what fails at once fails before the stream is handed out."""
        while self._primed is None:
            batch = await self._read()
            if batch:
                self._primed = batch

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        async with self._reading():
            if self._primed:
                batch, self._primed = self._primed, []
                yield batch
            while not self._closed:
                batch = await self._read()
                if batch is None:
                    return
                if batch:
                    yield batch

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(RuntimeError):  # the event reader may be mid-read in another task
                await self._events.aclose()
            await close_quietly(self._response)

    async def _read(self) -> list[CompletionChunk] | None:
        """The chunks of the next network read (maybe none); None once the stream is over. A failure
        after some chunks of the same read is raised by the next call, after those went out."""
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        if self._ended:
            return None
        with transport_errors():
            events = await anext(self._events, None)
        if events is None:
            self._ended = True
            return [self._reader.end()]
        batch: list[CompletionChunk] = []
        try:
            for _, data in events:
                chunk = self._reader.read(data)
                if chunk is not None:
                    batch.append(chunk)
        except SwitchyardError as exc:
            if not batch:
                raise
            self._failure = exc
        return batch


def _body(request: CompletionRequest, deployment: Deployment, *, vertex: bool) -> dict[str, Any]:
    defaults = deployment.extra_params
    return mapping.generate_body(request, deployment.upstream_model, vertex=vertex, defaults=defaults)


@functools.lru_cache(maxsize=1024)
def gemini_url(api_base: str, model: str, method: str) -> httpx.URL:
    """`{api_base}/v1beta/models/{model}:{method}`; a base that already names a version keeps it."""
    root = api_base.rstrip("/")
    if not _VERSIONED.search(root):
        root += "/v1beta"
    return httpx.URL(f"{root}/models/{model.removeprefix('models/')}:{method}")


@functools.lru_cache(maxsize=1024)
def vertex_url(api_base: str | None, project: str, location: str, model: str, method: str) -> httpx.URL:
    """The regional endpoint of `location` (see vertex_access.vertex_host), or `api_base` in its place;
    a model given as a full resource name (`projects/...`, a tuned model's endpoint) is used as it is."""
    if model.startswith("projects/"):
        path = model
    else:
        path = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
    return httpx.URL(f"{vertex_root(api_base, location)}/{path}:{method}")


def _not_streamed(body: bytes) -> SwitchyardError:
    # A stream request answered with one JSON object: an error, or a refusal.
    payload = decode(body)
    if _is_error(payload):
        return google_error(None, payload)
    return BadGatewayError("Gemini answered a stream request without a stream.")


def _is_error(payload: object) -> bool:
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    return isinstance(payload, dict) and "error" in payload
