"""The Voyage AI provider: `/v1/embeddings` and `/v1/rerank` at https://api.voyageai.com/v1 (or the
deployment's api_base), the key (VOYAGE_API_KEY) as a bearer token."""

from __future__ import annotations

from typing import ClassVar

from adapters.llm.retrieval import RetrievalProvider, read_counted_embeddings
from adapters.llm.voyage import mapping
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.rerank import RerankRequest, RerankResponse


class VoyageProvider(RetrievalProvider):
    name: ClassVar[str] = "voyage"
    default_api_base: ClassVar[str] = "https://api.voyageai.com/v1"

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        payload = await self._post(deployment, "/embeddings", mapping.embed_body(request, deployment))
        return read_counted_embeddings(payload, deployment.upstream_model)

    async def rerank(self, request: RerankRequest, deployment: Deployment) -> RerankResponse:
        payload = await self._post(deployment, "/rerank", mapping.rerank_body(request, deployment))
        return mapping.read_rerank(payload, request, deployment.upstream_model)
