"""Hugging Face Inference Providers (huggingface.co/docs/inference-providers): chat through the router's
OpenAI-compatible `https://router.huggingface.co/v1/chat/completions`, the user's token (HF_TOKEN) as a
bearer token; embeddings through the hf-inference feature-extraction pipeline.

Model names as LiteLLM writes them: `huggingface/<org>/<model>` lets the router pick the provider,
`huggingface/<provider>/<org>/<model>` names it, which the router takes as `<org>/<model>:<provider>`
(the router's own suffix, so no mapping has to be fetched from the Hub first; `:fastest`, `:cheapest`
written in the id pass as they are)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import httpx

from adapters.llm.http_calls import joined_url
from adapters.llm.huggingface import embeddings
from adapters.llm.openai.chat_host import ChatCompletionsHost
from domain.completions import CompletionRequest
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse

ROUTER_API_BASE = "https://router.huggingface.co/v1"


class HuggingFaceProvider(ChatCompletionsHost):
    name: ClassVar[str] = "huggingface"

    def _as_chat(
        self, request: CompletionRequest, deployment: Deployment
    ) -> tuple[CompletionRequest, Deployment]:
        request, deployment = super()._as_chat(request, deployment)
        routed = router_model(deployment.upstream_model)
        if routed != deployment.upstream_model:
            deployment = dataclasses.replace(deployment, upstream_model=routed)
        return request, deployment

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        model = embeddings.pipeline_model(deployment.upstream_model)
        payload = await self._post(
            deployment, embeddings.pipeline_path(model), embeddings.embed_body(request)
        )
        return embeddings.read_embeddings(payload, model)

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        base = (deployment.api_base or ROUTER_API_BASE).rstrip("/")
        if path.startswith(embeddings.PIPELINES):  # under the router's root, beside its /v1
            base = base.removesuffix("/v1")
        return joined_url(base, path)


def router_model(upstream: str) -> str:
    """The router's name for a model id as LiteLLM writes it: `<provider>/<org>/<model>` is
    `<org>/<model>:<provider>`; `<org>/<model>` stays as it is."""
    provider, _, model = upstream.partition("/")
    if "/" not in model or ":" in model:
        return upstream
    return f"{model}:{provider}"
