"""Vertex AI's Model Garden partner and open models that speak OpenAI's chat format (Llama, DeepSeek,
Qwen, gpt-oss, Mistral, Codestral, Jamba), served by the OpenAI adapter's logic with Vertex's URL and
OAuth bearer token.

Which endpoint (model names as in ../model_routes.py):
- `meta/...` (any `llama`), `deepseek-ai/...`, `qwen/...`, `openai/gpt-oss-...`: the OpenAI-compatible
  endpoint `{location}/endpoints/openapi/chat/completions`
  (https://cloud.google.com/vertex-ai/generative-ai/docs/maas/call-open-model-apis), `model` as given;
- `mistral-...`, `codestral-...`: `{location}/publishers/mistralai/models/{model}:rawPredict`
  (`:streamRawPredict` for a stream), `model` in the body without its `@version`
  (https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/mistral);
- `jamba-...`: the same under `publishers/ai21`.
"""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar
from typing import ClassVar

import httpx

from adapters.llm.gemini.vertex_access import VertexAccess, VertexTarget
from adapters.llm.model_routes import vertex_publisher
from adapters.llm.openai.chat_host import ChatCompletionsHost
from domain.completions import CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from ports.llm_provider import ChunkStream

_CALL: ContextVar[tuple[VertexTarget, str]] = ContextVar("vertex_partner_call")
"""This call's target and URL, found before the OpenAI adapter's logic asks for them (in this task)."""


class VertexPartnerProvider(ChatCompletionsHost):
    """Chat (whole and streamed) with Vertex's partner models; they serve no embeddings."""

    name: ClassVar[str] = "vertex_ai"
    supports_embeddings: ClassVar[bool] = False

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._access = VertexAccess(client)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        return await super().complete(request, await self._located(deployment, stream=False))

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        return await super().stream(request, await self._located(deployment, stream=True))

    async def _located(self, deployment: Deployment, *, stream: bool) -> Deployment:
        """Finds the call's target and URL, and the deployment as the body names its model."""
        target = await self._access.target(deployment)
        model = deployment.upstream_model
        located = target.located(deployment.api_base)
        partner = vertex_publisher(model)
        if partner is None:
            url = f"{located}/endpoints/openapi/chat/completions"
        else:
            method = "streamRawPredict" if stream else "rawPredict"
            url = f"{located}/publishers/{partner}/models/{model}:{method}"
            deployment = dataclasses.replace(deployment, upstream_model=model.split("@")[0])
        _CALL.set((target, url))
        return deployment

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        return httpx.URL(_CALL.get()[1])

    async def _headers(self, deployment: Deployment) -> dict[str, str]:
        return _CALL.get()[0].headers()
