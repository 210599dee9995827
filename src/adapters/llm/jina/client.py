"""The Jina AI provider (`jina_ai/`): `/v1/embeddings` and `/v1/rerank` at https://api.jina.ai/v1 (or the
deployment's api_base), the key (JINA_AI_API_KEY) as a bearer token.

Embeddings (jina.ai/embeddings, the API's request schema): `{model, input: [texts], dimensions}` out, and
Jina's `task`, `late_chunking`, `normalized` as the caller sends them; vectors asked as floats, Jina's
default (its `embedding_type: base64` is not documented as float32). The reply is OpenAI's list.
Rerank (jina.ai/reranker): `{model, query, documents, top_n, return_documents}` out; `{model, usage:
{total_tokens}, results: [{index, relevance_score, document}]}` back, the hosts' `/rerank` reply, billed
per token."""

from __future__ import annotations

from typing import Any, ClassVar

from adapters.llm.retrieval import RetrievalProvider, read_counted_embeddings, texts_of
from adapters.openai_format.rerank import read_hosted_rerank, rerank_body
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.rerank import RerankRequest, RerankResponse


class JinaProvider(RetrievalProvider):
    name: ClassVar[str] = "jina_ai"
    default_api_base: ClassVar[str] = "https://api.jina.ai/v1"

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        payload = await self._post(deployment, "/embeddings", embed_body(request, deployment))
        return read_counted_embeddings(payload, deployment.upstream_model)

    async def rerank(self, request: RerankRequest, deployment: Deployment) -> RerankResponse:
        # Jina sends every document's text back unless told not to; the gateway attaches its own copy.
        body = {"return_documents": False, **rerank_body(request, deployment.upstream_model)}
        reply = read_hosted_rerank(await self._post(deployment, "/rerank", body), request)
        return RerankResponse(reply.id, reply.model or deployment.upstream_model, reply.results, reply.usage)


def embed_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = {"model": deployment.upstream_model, "input": texts_of(request, "Jina AI")}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    body.update(request.extra_body)
    return body
