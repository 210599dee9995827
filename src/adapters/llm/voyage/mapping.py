"""Voyage AI's wire format, pure.

Embeddings (docs.voyageai.com/reference/embeddings-api): `{model, input: [texts], input_type,
output_dimension, encoding_format}` out, `encoding_format: "base64"` asked for the packed float32 vectors
the OpenAI reader decodes cheaply; `input_type` (`query` / `document`), `truncation`, `output_dtype` as
the caller sends them. The reply is OpenAI's list with `usage: {total_tokens}`.

Rerank (docs.voyageai.com/reference/reranker-api): `{model, query, documents, top_k, truncation}` out;
`{data: [{index, relevance_score, document?}], model, usage: {total_tokens}}` back, billed per token.
"""

from __future__ import annotations

from typing import Any

from adapters.llm.retrieval import texts_of
from adapters.openai_format.rerank import read_hosted_rerank
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest
from domain.rerank import RerankRequest, RerankResponse


def embed_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": deployment.upstream_model,
        "input": texts_of(request, "Voyage AI"),
        "encoding_format": "base64",
    }
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    body.update(request.extra_body)
    return body


def rerank_body(request: RerankRequest, deployment: Deployment) -> dict[str, Any]:
    # The documents' texts come back from the gateway's own copy (top_results), so Voyage's default
    # of not returning them stands.
    body: dict[str, Any] = {
        **request.extra_body,
        "model": deployment.upstream_model,
        "query": request.query,
        "documents": list(request.documents),
    }
    if request.top_n is not None:
        body["top_k"] = request.top_n
    return body


def read_rerank(body: object, request: RerankRequest, model: str) -> RerankResponse:
    """A decoded rerank reply; BadGatewayError when it is not one. It is the hosts' `/rerank` reply with
    the ranking under `data` instead of `results`."""
    if isinstance(body, dict) and "data" in body:
        body = {**body, "results": body["data"]}
    reply = read_hosted_rerank(body, request)
    return RerankResponse(reply.id, reply.model or model, reply.results, reply.usage)
