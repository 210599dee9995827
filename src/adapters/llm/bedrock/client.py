"""The Bedrock provider: Converse, ConverseStream and InvokeModel embeddings over one pooled httpx
client, each request signed with SigV4 (or carrying a bearer token)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Collection, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import httpx

from adapters.llm import http_calls
from adapters.llm.bedrock import embeddings, images, mapping, replies
from adapters.llm.bedrock.access import BedrockAccess
from adapters.llm.bedrock.access import runtime_base as runtime_base
from adapters.llm.bedrock.errors import stream_exception, upstream_error
from adapters.llm.bedrock.eventstream import EventStreamDecoder, EventStreamError
from adapters.llm.json_io import encode
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, Usage
from domain.deployments import Deployment
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError
from domain.images import ImageRequest, ImageResponse
from ports.llm_provider import ChunkStream, LLMProvider

T = TypeVar("T")
EVENT_STREAM = "application/vnd.amazon.eventstream"
_EMBEDDING_CONCURRENCY = 8  # Titan takes one text per call; this many are in flight at once


class BedrockProvider(LLMProvider):
    """Speaks Bedrock's runtime API to `deployment.api_base` (the region's endpoint by default). The
    client is the composition root's; credentials are resolved once per deployment and kept."""

    name: ClassVar[str] = "bedrock"
    supports_streaming: ClassVar[bool] = True
    supports_embeddings: ClassVar[bool] = True  # Amazon Titan Text and Cohere Embed models
    supports_images: ClassVar[bool] = True  # Amazon Titan Image Generator, Nova Canvas, Stability AI models
    supports_tools: ClassVar[bool] = True
    supports_vision: ClassVar[bool] = True  # data: URLs and s3:// URIs; Bedrock fetches no web URL
    supports_response_schema: ClassVar[bool] = True  # through a forced tool, as LiteLLM does
    supports_reasoning: ClassVar[bool] = True  # Claude's extended thinking; reasoningContent read back

    def __init__(self, client: httpx.AsyncClient, *, environ: Mapping[str, str] | None = None) -> None:
        self._client = client
        self._access = BedrockAccess(environ)

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return mapping.unsupported(request, deployment)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        plan = mapping.converse_body(request, deployment)
        response = await self._post(deployment, "converse", plan.body, stream=False)
        return replies.read_response(
            response.content, plan, response_id=_response_id(response), created=int(time.time()),
            model=deployment.upstream_model,
        )  # fmt: skip

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        plan = mapping.converse_body(request, deployment)
        response = await self._post(deployment, "converse-stream", plan.body, stream=True)
        await expect_event_stream(response)
        reader = replies.StreamReader(
            response_id=_response_id(response), created=int(time.time()), model=deployment.upstream_model,
            json_tool=plan.json_tool,
        )  # fmt: skip
        return BedrockChunkStream(response, reader)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        model = mapping.model_id(deployment)
        kind = embeddings.family(model)
        texts = embeddings.texts(request)
        drop = deployment.drop_params or bool(request.controls.get("drop_params"))
        size = embeddings.dimensions(request, model, kind, drop=drop)
        embed = self._embed_titan if kind == "titan" else self._embed_cohere
        vectors, tokens = await embed(deployment, texts, size, request.extra_body)
        return EmbeddingResponse(
            model=deployment.upstream_model,
            data=tuple(Embedding(index=i, vector=vector) for i, vector in enumerate(vectors)),
            usage=Usage(prompt_tokens=tokens),
        )

    async def _embed_titan(
        self, deployment: Deployment, texts: Sequence[str], size: int | None, extra: Mapping[str, Any]
    ) -> tuple[list[list[float]], int]:
        """One call per text (Titan takes one), several at a time, the vectors in the texts' order."""
        answers = await _bounded(
            [self._invoke(deployment, embeddings.titan_body(text, size, extra)) for text in texts]
        )
        vectors, tokens = [], 0
        for content, headers in answers:
            vector, count = embeddings.read_titan(content)
            vectors.append(vector)
            tokens += count or embeddings.token_count(headers)
        return vectors, tokens

    async def _embed_cohere(
        self, deployment: Deployment, texts: Sequence[str], size: int | None, extra: Mapping[str, Any]
    ) -> tuple[list[list[float]], int]:
        """One call per batch of up to 96 texts, several at a time."""
        step = embeddings.COHERE_BATCH
        batches = [texts[i : i + step] for i in range(0, len(texts), step)]
        answers = await _bounded(
            [self._invoke(deployment, embeddings.cohere_body(batch, size, extra)) for batch in batches]
        )
        vectors = [
            vector
            for batch, (content, _) in zip(batches, answers, strict=True)
            for vector in embeddings.read_cohere(content, len(batch))
        ]
        return vectors, sum(embeddings.token_count(headers) for _, headers in answers)

    async def generate_images(self, request: ImageRequest, deployment: Deployment) -> ImageResponse:
        """Titan and Nova Canvas make the `n` images in one call; Stability's models make one a call, so
        `n` calls are made, several at a time."""
        kind = images.family(mapping.model_id(deployment))
        if kind in ("titan", "nova"):
            content, _ = await self._invoke(deployment, images.titan_body(request, deployment))
            made = images.read_titan(content, request)
        else:
            sdxl = kind == "sdxl"
            body = (images.sdxl_body if sdxl else images.stability_body)(request, deployment)
            read = images.read_sdxl if sdxl else images.read_stability
            answers = await _bounded([self._invoke(deployment, body) for _ in range(request.count)])
            made = [image for content, _ in answers for image in read(content, request)]
        return ImageResponse(
            created=int(time.time()), model=deployment.upstream_model, images=tuple(made),
            usage=Usage(images=len(made)), size=request.size,
        )  # fmt: skip

    async def _invoke(self, deployment: Deployment, body: dict[str, Any]) -> tuple[bytes, httpx.Headers]:
        response = await self._post(deployment, "invoke", body, stream=False)
        return response.content, response.headers

    async def _post(
        self, deployment: Deployment, operation: str, body: dict[str, Any], *, stream: bool
    ) -> httpx.Response:
        """Sends the request; a streamed answer is returned once its status line and headers came, any
        other once the whole of it came. A failure status is raised as its domain error."""
        content = encode(body)
        url, headers = await self._access.signed(deployment, operation, content)
        limits = deployment.limits
        if not stream:
            return await http_calls.post(
                self._client, url, content, headers, limits=limits, failed=upstream_error
            )
        headers["accept"] = EVENT_STREAM
        # The whole-call timer bounds a stream too, until it opens.
        return await http_calls.open_stream(
            self._client, url, content, headers, limits=limits, failed=upstream_error, timed=True
        )


class BedrockChunkStream(http_calls.ResponseChunkStream):
    """Chunks decoded from the event stream as it arrives, a batch per network read."""

    def __init__(self, response: httpx.Response, reader: replies.StreamReader) -> None:
        super().__init__(response)
        self._reader = reader
        self._decoder = EventStreamDecoder()

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        read = self._reader.read
        async with self._reading():
            async for piece in self._response.aiter_bytes():
                batch: list[CompletionChunk] = []
                failure: Exception | None = None
                for message in decoded_messages(self._decoder, piece):
                    headers = message.headers
                    if headers.get(":message-type", "event") != "event":
                        failure = stream_exception(headers, message.payload)
                        break
                    chunk = read(headers.get(":event-type"), message.payload)
                    if chunk is not None:
                        batch.append(chunk)
                if batch:
                    yield batch
                if failure is not None:
                    raise failure
                if self._closed:
                    return
            decoded_messages(self._decoder, None)


def decoded_messages(decoder: EventStreamDecoder, piece: bytes | None) -> list[Any]:
    """The messages `piece` completes (None: the stream ended, and no message may be cut off)."""
    try:
        if piece is None:
            decoder.finish()
            return []
        return decoder.feed(piece)
    except EventStreamError as exc:
        raise BadGatewayError(f"Bedrock sent a malformed event stream: {exc}") from exc


async def expect_event_stream(response: httpx.Response, host: str = "Bedrock") -> None:
    """Raises BadGatewayError (the response closed) unless a stream request was answered with an AWS
    event stream (`host` names the service in the message)."""
    kind = response.headers.get("content-type", "")
    if not kind.startswith(EVENT_STREAM):
        content = await http_calls.read_and_close(response)
        raise BadGatewayError(
            f"{host} answered a stream request with {kind or 'no content type'}, not an event "
            f"stream: {content[:200].decode('utf-8', 'replace')!r}"
        )


async def _bounded(calls: Sequence[Awaitable[T]]) -> list[T]:
    """The results of `calls` in order, at most _EMBEDDING_CONCURRENCY at a time; the first failure
    cancels the rest and is raised."""
    gate = asyncio.Semaphore(_EMBEDDING_CONCURRENCY)

    async def run(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    tasks = [asyncio.ensure_future(run(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _response_id(response: httpx.Response) -> str:
    request_id = response.headers.get("x-amzn-requestid")
    return f"chatcmpl-{request_id or uuid.uuid4().hex}"
