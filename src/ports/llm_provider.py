"""The port every LLM provider adapter implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Sequence
from decimal import Decimal
from typing import ClassVar

from domain.audio import SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, Usage
from domain.deployments import Capabilities, Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import UnsupportedParameterError
from domain.images import ImageRequest, ImageResponse
from domain.moderation import ModerationRequest, ModerationResponse
from domain.rerank import RerankRequest, RerankResponse


class ChunkStream(ABC):
    """An open upstream stream of chunks. Iterate it (chunk by chunk, or by `batches()`) to the end,
    or `aclose()` it to cancel the upstream call (a client that went away must not keep the upstream
    busy)."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[CompletionChunk]: ...

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        """The same chunks, grouped by what became available at once (one network read, say). A group
        is handed over as soon as it is complete, never held back for more, so a consumer that writes a
        group at a time adds no latency and saves a write per chunk."""
        async for chunk in self:
            yield (chunk,)

    @abstractmethod
    async def aclose(self) -> None: ...

    @property
    def usage(self) -> Usage | None:
        """The usage the stream reported, once it has ended (None before, or when it reported none)."""
        return None

    @property
    def cost(self) -> Decimal | None:
        """What the stream cost in USD, once it has ended and the gateway metered it (None before, for
        a provider's own stream, or when the model has no known price)."""
        return None


class StreamWrapper(ChunkStream):
    """A stream over another that does something as the chunks pass (`batches`) and as it ends; its
    usage and cost are the inner stream's."""

    def __init__(self, inner: ChunkStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    @abstractmethod
    def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]: ...

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @property
    def cost(self) -> Decimal | None:
        return self._inner.cost


class LLMProvider(ABC):
    """Speaks one provider family's wire protocol.

    One instance serves every deployment of its family that shares an upstream; the deployment of each
    call comes with it (upstream model id, base URL, credentials, timeouts).

    Contract:
    - `complete` returns the whole reply; `stream` returns once the upstream accepted the call (status
      checked), so every error the upstream answers with up front is raised by `stream` itself, never
      mid-iteration. Errors later in the stream are raised by the iterator.
    - A stream yields chunks in order; a tool call's id and name arrive on its first delta, argument
      fragments after. When the request asks for usage (`include_usage`), the last chunk carries it.
    - Every failure is a `domain.errors.SwitchyardError`: upstream status and error bodies mapped to
      their kind, connect failures to APIConnectionError, timeouts to TimeoutError, malformed bodies to
      BadGatewayError. Nothing of the transport library leaks out.
    - What the provider cannot honour it names in `unsupported_params`; it never drops anything silently.
    """

    name: ClassVar[str]
    supports_chat: ClassVar[bool] = True
    supports_streaming: ClassVar[bool] = True
    supports_embeddings: ClassVar[bool] = False
    supports_moderation: ClassVar[bool] = False
    supports_rerank: ClassVar[bool] = False
    supports_images: ClassVar[bool] = False
    supports_transcription: ClassVar[bool] = False
    supports_speech: ClassVar[bool] = False
    supports_tools: ClassVar[bool] = True
    supports_vision: ClassVar[bool] = True
    supports_response_schema: ClassVar[bool] = True
    supports_reasoning: ClassVar[bool] = True
    supports_count_tokens: ClassVar[bool] = False
    native_format: ClassVar[str | None] = None
    """The client wire format this adapter speaks natively ("anthropic"), if any. A request whose
    `native.format` is this one is sent as the client sent it (its `model` set to the deployment's
    upstream model, the deployment's credentials and the client's format headers such as
    `anthropic-beta` applied); the reply comes back parsed as usual and with `native` holding the body
    as received, and a stream's chunks carry every upstream event's bytes in `native`, in order."""

    def speaks(self, format: str, deployment: Deployment) -> bool:
        """Whether `deployment` is served in the client wire format `format` natively (see
        `native_format`); an adapter whose upstreams differ (an OpenAI-compatible host with or without
        the Responses API) decides per deployment."""
        return format == self.native_format

    @classmethod
    def capabilities(cls) -> Capabilities:
        """What the adapter can carry at all; a deployment's own capabilities are limited to these."""
        return Capabilities(
            chat=cls.supports_chat,
            embeddings=cls.supports_embeddings,
            moderation=cls.supports_moderation,
            rerank=cls.supports_rerank,
            images=cls.supports_images,
            transcription=cls.supports_transcription,
            speech=cls.supports_speech,
            streaming=cls.supports_streaming,
            tools=cls.supports_tools,
            vision=cls.supports_vision,
            response_schema=cls.supports_response_schema,
            reasoning=cls.supports_reasoning,
        )

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        """The parameters of `request` (by their OpenAI names: `logit_bias`, `seed`, `n`, `tools`,
        `response_format`, or a passthrough field) this provider cannot honour for `deployment`. The
        application drops them when drop_params allows, or refuses the call naming them, before
        `complete` or `stream` is called; adapters may then assume none is set."""
        return ()

    @abstractmethod
    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse: ...

    @abstractmethod
    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream: ...

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        raise UnsupportedParameterError(
            f"provider {self.name} does not serve embeddings", param="model", provider=self.name
        )

    async def moderate(self, request: ModerationRequest, deployment: Deployment) -> ModerationResponse:
        """Each input's verdict, in order, when `supports_moderation`; errors as for `complete`."""
        raise UnsupportedParameterError(
            f"provider {self.name} does not serve moderations", param="model", provider=self.name
        )

    async def rerank(self, request: RerankRequest, deployment: Deployment) -> RerankResponse:
        """The documents' relevance to the query, the most relevant first and cut to `top_n`, each with
        its text when `return_documents`; `usage.queries` the search units billed. When
        `supports_rerank`; errors as for `complete`."""
        raise UnsupportedParameterError(
            f"provider {self.name} does not serve rerank", param="model", provider=self.name
        )

    async def generate_images(self, request: ImageRequest, deployment: Deployment) -> ImageResponse:
        """`request.count` images made from the prompt, each as base64 or a URL as `response_format`
        asks; `usage.images` the images made. When `supports_images`; errors as for `complete`."""
        raise UnsupportedParameterError(
            f"provider {self.name} does not generate images", param="model", provider=self.name
        )

    async def transcribe(
        self, request: TranscriptionRequest, deployment: Deployment
    ) -> TranscriptionResponse:
        """The recording's text (in English when `request.translate`) in `response_format`: the whole
        reply as `text` for text, srt and vtt; `usage.audio_seconds` its duration where known. When
        `supports_transcription`; errors as for `complete`."""
        raise UnsupportedParameterError(
            f"provider {self.name} does not transcribe audio", param="model", provider=self.name
        )

    async def speak(self, request: SpeechRequest, deployment: Deployment) -> SpeechResponse:
        """The input spoken, its audio streamed as it arrives with its content type, once the upstream
        has accepted the call (errors before the first byte raised as for `complete`);
        `usage.characters` the input's length. When `supports_speech`."""
        raise UnsupportedParameterError(
            f"provider {self.name} does not speak", param="model", provider=self.name
        )

    async def count_tokens(self, request: CompletionRequest, deployment: Deployment) -> int:
        """The input tokens of `request` as the provider itself counts them (its token-counting
        endpoint), when `supports_count_tokens`; errors as for `complete`."""
        raise UnsupportedParameterError(
            f"provider {self.name} does not count tokens", param="model", provider=self.name
        )
