"""The built-in offline provider: serves `mock/<anything>` deployments and any request with
`mock_response`, deterministically, without a network."""

from __future__ import annotations

import time
import uuid
from array import array
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

from adapters.llm.mock.audio import mock_speech, mock_transcription
from adapters.llm.mock.errors import mock_error
from adapters.llm.mock.script import (
    DEFAULT_DIMENSIONS,
    FLAGGED_MARKER,
    PIXEL_PNG,
    forced_tool_call,
    overlap,
    reply_text,
    unit_vector,
    words,
)
from domain.audio import SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Delta,
    FinishReason,
    ToolCallDelta,
    Usage,
)
from domain.deployments import Deployment
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.images import GeneratedImage, ImageRequest, ImageResponse
from domain.messages import Message, Role
from domain.moderation import CATEGORIES, ModerationRequest, ModerationResponse, ModerationResult
from domain.rerank import RerankRequest, RerankResponse, RerankResult, top_results
from ports.llm_provider import ChunkStream, LLMProvider
from ports.token_counter import TokenCounter

_ARGUMENT_PIECE = 8
"""Characters of tool-call arguments per streamed delta: enough pieces to exercise reassembly."""


class MockProvider(LLMProvider):
    """Replies with `mock_response`, or echoes the last user message; with tools and a forced
    tool_choice, calls the tool with arguments built from its schema; `mock_response` naming an
    error ("litellm.RateLimitError") raises it. Streams a word per chunk, role on the first, usage on
    the last (always: the gateway meters mock traffic like any other). Usage comes from the
    TokenCounter. Embeddings are unit vectors hashed from each input. Moderation flags nothing, unless
    an input holds the marker `mock-flagged` (then every category, score 1.0). Rerank scores each
    document by the share of the query's words it holds (one search unit a call). Images are a 1x1
    PNG each, as base64 or (`response_format: url`) a `data:` URL, the prompt as their revised prompt.
    Audio: see mock/audio.py (a transcript stating a WAV's length; speech as a short silent WAV)."""

    name: ClassVar[str] = "mock"
    supports_embeddings: ClassVar[bool] = True
    supports_moderation: ClassVar[bool] = True
    supports_rerank: ClassVar[bool] = True
    supports_images: ClassVar[bool] = True
    supports_transcription: ClassVar[bool] = True
    supports_speech: ClassVar[bool] = True

    def __init__(self, token_counter: TokenCounter) -> None:
        self._counter = token_counter

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        reply = self._reply(request, deployment)
        message, finish = reply.message, reply.finish
        return CompletionResponse(
            id=reply.id,
            created=reply.created,
            model=reply.model,
            choices=tuple(Choice(index, message, finish) for index in range(request.params.n or 1)),
            usage=reply.usage,
        )

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        reply = self._reply(request, deployment)
        chunks: list[CompletionChunk] = []

        def chunk(delta: Delta, finish: FinishReason | None = None) -> None:
            choice = ChunkChoice(0, delta, finish)
            chunks.append(CompletionChunk(reply.id, reply.created, reply.model, (choice,)))

        call = reply.message.tool_calls[0] if reply.message.tool_calls else None
        if call is None:
            pieces = words(reply.message.text)
            chunk(Delta(role="assistant", content=pieces[0]))
            for piece in pieces[1:]:
                chunk(Delta(content=piece))
        else:
            args = call.arguments
            chunk(Delta(role="assistant", tool_calls=(ToolCallDelta(0, call.id, call.name, ""),)))
            for start in range(0, len(args), _ARGUMENT_PIECE):
                piece = args[start : start + _ARGUMENT_PIECE]
                chunk(Delta(tool_calls=(ToolCallDelta(0, arguments=piece),)))
        chunk(Delta(), reply.finish)
        chunks.append(CompletionChunk(reply.id, reply.created, reply.model, (), usage=reply.usage))
        return ReplayStream(chunks)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        if request.mock_response is not None:
            fixed = array("f", request.mock_response)
            vectors: Sequence[Sequence[float]] = [fixed] * len(request.inputs)
        else:
            dimensions = request.dimensions or DEFAULT_DIMENSIONS
            vectors = [unit_vector(item, dimensions) for item in request.inputs]
        model = deployment.upstream_model
        tokens = sum(
            self._counter.count_text(item, model) if isinstance(item, str) else len(item)
            for item in request.inputs
        )
        return EmbeddingResponse(
            model=model,
            data=tuple(Embedding(index, vector) for index, vector in enumerate(vectors)),
            usage=Usage(prompt_tokens=tokens),
        )

    async def moderate(self, request: ModerationRequest, deployment: Deployment) -> ModerationResponse:
        results = []
        for text in request.inputs:
            flagged = FLAGGED_MARKER in text
            results.append(
                ModerationResult(
                    flagged=flagged,
                    categories=dict.fromkeys(CATEGORIES, flagged),
                    category_scores=dict.fromkeys(CATEGORIES, 1.0 if flagged else 0.0),
                )
            )
        model = deployment.upstream_model
        tokens = sum(self._counter.count_text(text, model) for text in request.inputs)
        return ModerationResponse(
            f"modr-{uuid.uuid4().hex}", model, tuple(results), Usage(prompt_tokens=tokens)
        )

    async def rerank(self, request: RerankRequest, deployment: Deployment) -> RerankResponse:
        scored = tuple(
            RerankResult(index, overlap(request.query, document))
            for index, document in enumerate(request.documents)
        )
        model = deployment.upstream_model
        tokens = sum(self._counter.count_text(text, model) for text in request.inputs)
        return RerankResponse(
            f"rerank-{uuid.uuid4().hex}",
            model,
            top_results(request, scored),
            Usage(prompt_tokens=tokens, queries=1),
        )

    async def generate_images(self, request: ImageRequest, deployment: Deployment) -> ImageResponse:
        if request.response_format == "url":
            image = GeneratedImage(url=f"data:image/png;base64,{PIXEL_PNG}", revised_prompt=request.prompt)
        else:
            image = GeneratedImage(b64_json=PIXEL_PNG, revised_prompt=request.prompt)
        model = deployment.upstream_model
        return ImageResponse(
            created=int(time.time()),
            model=model,
            images=(image,) * request.count,
            usage=Usage(prompt_tokens=self._counter.count_text(request.prompt, model), images=request.count),
            size=request.size,
            id=f"img-{uuid.uuid4().hex}",
        )

    async def transcribe(
        self, request: TranscriptionRequest, deployment: Deployment
    ) -> TranscriptionResponse:
        return mock_transcription(request, deployment.upstream_model)

    async def speak(self, request: SpeechRequest, deployment: Deployment) -> SpeechResponse:
        return mock_speech(request, deployment.upstream_model)

    def _reply(self, request: CompletionRequest, deployment: Deployment) -> _Reply:
        if request.mock_response is not None and (error := mock_error(request.mock_response)):
            raise error
        model = deployment.upstream_model
        call = forced_tool_call(request)
        if call is None:
            text = reply_text(request)
            message = Message(Role.ASSISTANT, content=text)
            completion_tokens = self._counter.count_text(text, model)
        else:
            message = Message(Role.ASSISTANT, tool_calls=(call,))
            completion_tokens = self._counter.count_text(call.name + call.arguments, model)
        usage = Usage(
            prompt_tokens=self._counter.count_messages(request.messages, model, request.tools),
            completion_tokens=completion_tokens,
        )
        finish = FinishReason.STOP if call is None else FinishReason.TOOL_CALLS
        return _Reply(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model, message, finish, usage)


@dataclass(frozen=True, slots=True)
class _Reply:
    id: str
    created: int
    model: str
    message: Message
    finish: FinishReason
    usage: Usage


class ReplayStream(ChunkStream):
    """A stream of chunks decided in advance; closing it ends the iteration."""

    def __init__(self, chunks: list[CompletionChunk]) -> None:
        self._chunks = chunks
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        for chunk in self._chunks:
            if self._closed:
                return
            yield chunk
        self._closed = True

    async def aclose(self) -> None:
        self._closed = True
