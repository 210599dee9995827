"""The base of the adapters of upstreams that serve no chat (transcription, embeddings, rerank)."""

from __future__ import annotations

from typing import ClassVar

from domain.completions import CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.errors import UnsupportedParameterError
from ports.llm_provider import ChunkStream, LLMProvider


class NoChatProvider(LLMProvider):
    """An adapter that refuses chat, whole or streamed, saying what it serves instead; it claims none of
    chat's features, so routing never sends it a chat call it could serve in part."""

    supports_chat: ClassVar[bool] = False
    supports_streaming: ClassVar[bool] = False
    supports_tools: ClassVar[bool] = False
    supports_vision: ClassVar[bool] = False
    supports_response_schema: ClassVar[bool] = False
    supports_reasoning: ClassVar[bool] = False
    no_chat: ClassVar[str]
    """What a chat call is told, `{name}` standing for the provider's name."""

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        raise self._no_chat()

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        raise self._no_chat()

    def _no_chat(self) -> UnsupportedParameterError:
        return UnsupportedParameterError(
            self.no_chat.format(name=self.name), param="model", provider=self.name
        )
