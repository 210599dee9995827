"""The traced `LLMProvider`: one CLIENT span per upstream attempt, after OpenTelemetry's semantic
conventions for generative AI (`gen_ai.*`, schema 1.44.0).

A span is named `{gen_ai.operation.name} {gen_ai.request.model}`, where the request model is the model
(group) the attempt was asked for and `gen_ai.response.model` what the upstream says answered. A stream's
span lasts until the stream ends. Prompt and reply text go on the span only when
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Collection, Iterator, Mapping, Sequence
from time import monotonic
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from adapters.observability.tracing import Tracing
from domain.audio import SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, Usage
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import SwitchyardError
from domain.images import ImageRequest, ImageResponse
from domain.messages import ImagePart, Message, Role, TextPart
from domain.moderation import ModerationRequest, ModerationResponse
from domain.rerank import RerankRequest, RerankResponse
from ports.llm_provider import ChunkStream, LLMProvider, StreamWrapper

Answered = TypeVar(
    "Answered", ModerationResponse, RerankResponse, ImageResponse, TranscriptionResponse, SpeechResponse
)

PROVIDER_NAMES = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "cohere": "cohere",
    "mistral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "perplexity": "perplexity",
}
"""Switchyard's provider prefixes by the conventions' `gen_ai.provider.name` values; the others keep
their own name."""
_DEFAULT_HOSTS = {
    "openai": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com",
    "cohere": "api.cohere.com",
    "mistral": "api.mistral.ai",
    "groq": "api.groq.com",
    "deepseek": "api.deepseek.com",
    "xai": "api.x.ai",
}
_DESCRIBED = (
    "name",
    "native_format",
    "supports_chat",
    "supports_streaming",
    "supports_embeddings",
    "supports_moderation",
    "supports_rerank",
    "supports_images",
    "supports_transcription",
    "supports_speech",
    "supports_tools",
    "supports_vision",
    "supports_response_schema",
    "supports_reasoning",
    "supports_count_tokens",
)


class TracedProvider(LLMProvider):
    """Wraps a provider adapter; every call it makes upstream becomes a span. Everything else is the
    inner adapter's."""

    def __init__(self, inner: LLMProvider, tracing: Tracing) -> None:
        self._inner = inner
        self._spans = tracing.spans
        self._capture = tracing.capture_content
        for name in _DESCRIBED:  # what the adapter says of itself is the inner adapter's
            setattr(self, name, getattr(inner, name))

    @property
    def inner(self) -> LLMProvider:
        return self._inner

    def speaks(self, format: str, deployment: Deployment) -> bool:
        return self._inner.speaks(format, deployment)

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return self._inner.unsupported_params(request, deployment)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        span = self._start("chat", request.model, deployment, self._chat_attributes(request))
        try:
            response = await self._inner.complete(request, deployment)
        except BaseException as exc:
            _failed(span, exc)
            raise
        found = _response_attributes(response.id, response.model, response.usage)
        found["gen_ai.response.finish_reasons"] = _finish_reasons(response)
        if self._capture:
            found["gen_ai.output.messages"] = _output_messages(response)
        span.set_attributes(found)
        span.end()
        return response

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        span = self._start("chat", request.model, deployment, self._chat_attributes(request, stream=True))
        started = monotonic()
        try:
            inner = await self._inner.stream(request, deployment)
        except BaseException as exc:
            _failed(span, exc)
            raise
        return TracedStream(inner, span, started, self._capture)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        attributes: dict[str, Any] = {"gen_ai.request.encoding_formats": (str(request.encoding_format),)}
        if request.dimensions:
            attributes["gen_ai.embeddings.dimension.count"] = request.dimensions
        span = self._start("embeddings", request.model, deployment, attributes)
        try:
            response = await self._inner.embed(request, deployment)
        except BaseException as exc:
            _failed(span, exc)
            raise
        span.set_attributes(_response_attributes(None, response.model, response.usage))
        span.end()
        return response

    async def count_tokens(self, request: CompletionRequest, deployment: Deployment) -> int:
        return await self._inner.count_tokens(request, deployment)

    async def moderate(self, request: ModerationRequest, deployment: Deployment) -> ModerationResponse:
        return await self._spanned(
            "moderation", request.model, deployment, self._inner.moderate(request, deployment)
        )

    async def rerank(self, request: RerankRequest, deployment: Deployment) -> RerankResponse:
        return await self._spanned(
            "rerank", request.model, deployment, self._inner.rerank(request, deployment)
        )

    async def generate_images(self, request: ImageRequest, deployment: Deployment) -> ImageResponse:
        return await self._spanned(
            "image_generation", request.model, deployment, self._inner.generate_images(request, deployment)
        )

    async def transcribe(
        self, request: TranscriptionRequest, deployment: Deployment
    ) -> TranscriptionResponse:
        operation = "audio_translation" if request.translate else "audio_transcription"
        return await self._spanned(
            operation, request.model, deployment, self._inner.transcribe(request, deployment)
        )

    async def speak(self, request: SpeechRequest, deployment: Deployment) -> SpeechResponse:
        # The span covers the call until the upstream accepts it; the audio then streams on its own.
        return await self._spanned(
            "audio_speech", request.model, deployment, self._inner.speak(request, deployment)
        )

    async def _spanned(
        self, operation: str, model: str, deployment: Deployment, call: Awaitable[Answered]
    ) -> Answered:
        """`call` in a span of `operation`, its usage on the span."""
        span = self._start(operation, model, deployment, {})
        try:
            response = await call
        except BaseException as exc:
            _failed(span, exc)
            raise
        span.set_attributes(_response_attributes(response.id, response.model, response.usage))
        span.end()
        return response

    def _chat_attributes(self, request: CompletionRequest, *, stream: bool = False) -> dict[str, Any]:
        found = _chat_attributes(request, stream=stream)
        if self._capture:
            found["gen_ai.input.messages"] = _input_messages(request.messages)
        return found

    def _start(self, operation: str, model: str, deployment: Deployment, attributes: dict[str, Any]) -> Span:
        attributes["gen_ai.operation.name"] = operation
        attributes["gen_ai.provider.name"] = PROVIDER_NAMES.get(deployment.provider, deployment.provider)
        attributes["gen_ai.request.model"] = model
        attributes["switchyard.deployment.id"] = deployment.id
        attributes.update(_server(deployment))
        return self._spans.start(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attributes)


class TracedStream(StreamWrapper):
    """A stream whose span ends with it: the reply's id, model, finish reasons, usage and time to first
    chunk noted on the way."""

    def __init__(self, inner: ChunkStream, span: Span, started: float, capture: bool) -> None:
        super().__init__(inner)
        self._span = span
        self._started = started
        self._capture = capture
        self._ended = False
        self._first: float | None = None
        self._id: str | None = None
        self._model: str | None = None
        self._usage: Usage | None = None
        self._reasons: dict[int, str] = {}
        self._text: list[str] | None = [] if capture else None

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        try:
            async for batch in self._inner.batches():
                if self._first is None and batch:
                    self._first = monotonic() - self._started
                    self._id, self._model = batch[0].id, batch[0].model
                for chunk in batch:
                    self._note(chunk)
                yield batch
        except BaseException as exc:
            self._end(exc)
            raise
        self._end(None)

    def _note(self, chunk: CompletionChunk) -> None:
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            if choice.finish_reason is not None:
                self._reasons[choice.index] = str(choice.finish_reason)
            if self._text is not None and choice.delta.content:
                self._text.append(choice.delta.content)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._end(None)

    def _end(self, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        span = self._span
        found = _response_attributes(self._id, self._model, self._usage or self._inner.usage)
        if self._first is not None:
            found["gen_ai.response.time_to_first_chunk"] = self._first
        if self._reasons:
            found["gen_ai.response.finish_reasons"] = tuple(self._reasons.values())
        if self._text is not None:
            reason = next(iter(self._reasons.values()), None)
            message = {"role": "assistant", "parts": [{"type": "text", "content": "".join(self._text)}]}
            found["gen_ai.output.messages"] = _json([{**message, "finish_reason": reason}])
        span.set_attributes(found)
        if error is not None:
            _failed(span, error)
        else:
            span.end()


def _failed(span: Span, error: BaseException) -> None:
    """Ends the span as failed: `error.type` is the error's kind (never its message, which may quote an
    upstream body)."""
    if isinstance(error, SwitchyardError):
        kind = error.error_type
        if error.status_code:
            span.set_attribute("http.response.status_code", error.status_code)
    else:
        kind = type(error).__qualname__
    span.set_attribute("error.type", kind)
    span.set_status(Status(StatusCode.ERROR, kind))
    span.end()


def _chat_attributes(request: CompletionRequest, *, stream: bool = False) -> dict[str, Any]:
    params = request.params
    found: dict[str, Any] = {}
    for name, value in (
        ("gen_ai.request.temperature", params.temperature),
        ("gen_ai.request.top_p", params.top_p),
        ("gen_ai.request.top_k", params.top_k),
        ("gen_ai.request.max_tokens", params.max_completion_tokens or params.max_tokens),
        ("gen_ai.request.frequency_penalty", params.frequency_penalty),
        ("gen_ai.request.presence_penalty", params.presence_penalty),
        ("gen_ai.request.seed", params.seed),
        ("gen_ai.request.stop_sequences", params.stop),
    ):
        if value is not None:
            found[name] = value
    if params.n is not None and params.n != 1:
        found["gen_ai.request.choice.count"] = params.n
    if request.response_format is not None:
        found["gen_ai.output.type"] = "text" if request.response_format.type == "text" else "json"
    if stream:
        found["gen_ai.request.stream"] = True
    return found


def _response_attributes(id: str | None, model: str | None, usage: Usage | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if id:
        found["gen_ai.response.id"] = id
    if model:
        found["gen_ai.response.model"] = model
    if usage is not None:
        found["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        found["gen_ai.usage.output_tokens"] = usage.completion_tokens
        if usage.cached_tokens:
            found["gen_ai.usage.cache_read.input_tokens"] = usage.cached_tokens
        if usage.cache_creation_tokens:
            found["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_creation_tokens
        if usage.reasoning_tokens:
            found["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
    return found


def _finish_reasons(response: CompletionResponse) -> tuple[str, ...]:
    return tuple(str(choice.finish_reason) for choice in response.choices if choice.finish_reason)


def _server(deployment: Deployment) -> dict[str, Any]:
    return _server_of(deployment.api_base, deployment.provider)


@functools.lru_cache(maxsize=1024)
def _server_of(api_base: str | None, provider: str) -> dict[str, Any]:
    """Read-only (a cached dict): a deployment's upstream, its URL parsed once, not on every attempt."""
    if not api_base:
        host = _DEFAULT_HOSTS.get(provider)
        return {"server.address": host} if host else {}
    parts = urlsplit(api_base)
    found: dict[str, Any] = {"server.address": parts.hostname or ""}
    if parts.port:
        found["server.port"] = parts.port
    return found


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _input_messages(messages: Sequence[Message]) -> str:
    return _json([{"role": str(message.role), "parts": list(_parts(message))} for message in messages])


def _parts(message: Message) -> Iterator[dict[str, Any]]:
    if message.role is Role.TOOL:
        yield {"type": "tool_call_response", "id": message.tool_call_id, "response": message.text}
        return
    if message.reasoning_content:
        yield {"type": "reasoning", "content": message.reasoning_content}
    content = message.content
    if isinstance(content, str):
        yield {"type": "text", "content": content}
    elif content is not None:
        for part in content:
            if isinstance(part, TextPart):
                yield {"type": "text", "content": part.text}
            elif isinstance(part, ImagePart) and not part.url.startswith("data:"):
                yield {"type": "uri", "modality": "image", "uri": part.url}
            else:  # inline bytes are not copied onto a span
                yield {"type": "blob", "modality": "image" if isinstance(part, ImagePart) else "document"}
    for call in message.tool_calls:
        yield {"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments}


def _output_messages(response: CompletionResponse) -> str:
    return _json(
        [
            {
                "role": "assistant",
                "parts": list(_parts(choice.message)),
                "finish_reason": str(choice.finish_reason) if choice.finish_reason else None,
            }
            for choice in response.choices
        ]
    )


class TracedProviders(Mapping[str, LLMProvider]):
    """The providers by deployment id, each as a `TracedProvider` (made once per adapter): a view over
    the live mapping, so deployments added later are traced too."""

    def __init__(self, inner: Mapping[str, LLMProvider], tracing: Tracing) -> None:
        self._inner = inner
        self._tracing = tracing
        self._traced: dict[int, TracedProvider] = {}

    def __getitem__(self, key: str) -> LLMProvider:
        return self.traced(self._inner[key])

    def get(self, key: str, default: Any = None) -> Any:
        provider = self._inner.get(key)
        return default if provider is None else self.traced(provider)

    def traced(self, provider: LLMProvider) -> TracedProvider:
        found = self._traced.get(id(provider))
        if found is None or found.inner is not provider:
            found = self._traced[id(provider)] = TracedProvider(provider, self._tracing)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._inner)

    def __len__(self) -> int:
        return len(self._inner)
