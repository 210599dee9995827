"""The rerank format the gateway serves (Cohere's, as LiteLLM's `/rerank` takes it): a client's request
parsed, a reply rendered with Cohere's `meta.billed_units`; and the Jina-style `/rerank` of the
OpenAI-compatible hosts that serve one (vLLM, TEI, Jina): its body built and its reply read."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from adapters.openai_format import wire
from adapters.openai_format.replies import _malformed
from adapters.openai_format.requests import _controls
from adapters.openai_format.validation import bad_request, invalid_type
from domain.completions import Usage
from domain.errors import BadGatewayError, BadRequestError
from domain.rerank import RerankRequest, RerankResponse, RerankResult, top_results


class RerankBody(wire.GatewayFields):
    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1)
    query: str
    documents: Any  # checked by `_documents`: a union would name its members in the error's `param`
    top_n: int | None = Field(None, ge=1)
    return_documents: bool | None = None
    max_tokens_per_doc: int | None = Field(None, ge=1)


def parse_rerank_request(body: object) -> RerankRequest:
    """A rerank body (`documents` strings or `{"text": ...}` objects) as a domain request; BadRequestError
    naming the field otherwise."""
    try:
        request = RerankBody.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    return RerankRequest(
        model=request.model,
        query=request.query,
        documents=_documents(request.documents),
        top_n=request.top_n,
        return_documents=bool(request.return_documents),
        max_tokens_per_doc=request.max_tokens_per_doc,
        metadata=request.metadata or {},
        controls=_controls(request),
        extra_body=request.__pydantic_extra__ or {},
    )


def _documents(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise invalid_type("documents", "an array of strings or of objects with a text", value)
    if not value:
        raise BadRequestError("Invalid 'documents': must not be empty.", param="documents")
    texts = []
    for index, item in enumerate(value):
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            item = item["text"]
        if not isinstance(item, str):
            raise invalid_type(f"documents[{index}]", "a string or an object with a text", item)
        texts.append(item)
    return tuple(texts)


def render_rerank(response: RerankResponse) -> dict[str, Any]:
    """Cohere's rerank reply: `{id, results: [{index, relevance_score, document?}], meta}`."""
    return {
        "id": response.id,
        "results": [
            {
                "index": result.index,
                "relevance_score": result.relevance_score,
                **({"document": {"text": result.document}} if result.document is not None else {}),
            }
            for result in response.results
        ],
        "meta": {"billed_units": {"search_units": response.usage.queries}},
    }


def rerank_body(request: RerankRequest, upstream_model: str) -> dict[str, Any]:
    """The body for a `/rerank` in the shape Cohere, vLLM, TEI and Jina share: `model`, `query`, the
    documents' texts and `top_n`."""
    body: dict[str, Any] = {
        **request.extra_body,
        "model": upstream_model,
        "query": request.query,
        "documents": list(request.documents),
    }
    if request.top_n is not None:
        body["top_n"] = request.top_n
    return body


class _HostedResult(wire._Lenient):
    index: int
    relevance_score: float


class _HostedUsage(wire._Lenient):
    total_tokens: int | None = None
    prompt_tokens: int | None = None


class _HostedRerank(wire._Lenient):
    id: str | None = None
    model: str | None = None
    results: list[_HostedResult]
    usage: _HostedUsage | None = None


def read_hosted_rerank(body: object, request: RerankRequest) -> RerankResponse:
    """A decoded `/rerank` reply from an OpenAI-compatible host; BadGatewayError when it is not one, or
    names a document the request did not send. One search unit per call, as Cohere bills a query."""
    try:
        reply = _HostedRerank.model_validate(body)
    except ValidationError as exc:
        raise _malformed("rerank reply", exc) from exc
    results = tuple(RerankResult(item.index, item.relevance_score) for item in reply.results)
    checked_indexes(results, request)
    usage = reply.usage
    tokens = (usage.prompt_tokens or usage.total_tokens or 0) if usage is not None else 0
    return RerankResponse(
        id=reply.id or f"rerank-{uuid.uuid4().hex}",
        model=reply.model or "",
        results=top_results(request, results),
        usage=Usage(prompt_tokens=tokens, queries=1),
    )


def checked_indexes(results: tuple[RerankResult, ...], request: RerankRequest) -> None:
    """BadGatewayError when an upstream ranked a document the request did not send."""
    for result in results:
        if not 0 <= result.index < len(request.documents):
            raise BadGatewayError(f"The upstream ranked a document it was not sent (index {result.index}).")
