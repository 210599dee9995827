"""The OpenAI adapter narrowed to chat completions and embeddings, for upstreams that put only those of
OpenAI's API under their own URLs and authentication (Hugging Face's router, Cloudflare Workers AI,
Snowflake Cortex): each subclass says where a call goes and how it signs in."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from adapters.llm.openai.client import OpenAIProvider
from domain.completions import CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.errors import BadRequestError
from ports.llm_provider import ChunkStream


class ChatCompletionsHost(OpenAIProvider):
    """No moderations, images, audio, rerank, legacy `/completions` or Responses API: a request that came
    in one of those formats goes as its chat completions translation, the rest is not offered."""

    supports_moderation: ClassVar[bool] = False
    supports_rerank: ClassVar[bool] = False
    supports_images: ClassVar[bool] = False
    supports_transcription: ClassVar[bool] = False
    supports_speech: ClassVar[bool] = False
    native_format: ClassVar[str | None] = None

    def speaks(self, format: str, deployment: Deployment) -> bool:
        return False

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        return await super().complete(*self._as_chat(request, deployment))

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        return await super().stream(*self._as_chat(request, deployment))

    def _as_chat(
        self, request: CompletionRequest, deployment: Deployment
    ) -> tuple[CompletionRequest, Deployment]:
        """The call as plain chat completions: the client's native body left behind (the OpenAI adapter
        would send a legacy completion or a Responses request as it came). Hosts that name models
        otherwise return the deployment under the host's name for its model."""
        if request.native is not None:
            request = dataclasses.replace(request, native=None)
        return request, deployment


def account_id(deployment: Deployment, env: str) -> str:
    """The account a host's URL names (Cloudflare's, Snowflake's) for a deployment without an api_base;
    BadRequestError naming both settings when neither is configured."""
    account = deployment.credentials.extra.get("account_id")
    if not account:
        raise BadRequestError(
            f"a {deployment.provider} deployment needs account_id (or {env}) or api_base", param="model"
        )
    return str(account)
