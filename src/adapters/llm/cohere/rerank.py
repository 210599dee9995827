"""Cohere's v2 rerank on the wire (POST /v2/rerank): `{model, query, documents: [text], top_n,
max_tokens_per_doc}` out; `{id, results: [{index, relevance_score}], meta: {billed_units: {search_units}}}`
back. v2 sends no document texts back, so the gateway attaches them itself when the caller asks."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.openai_format.rerank import checked_indexes, rerank_body
from domain.completions import Usage
from domain.errors import BadGatewayError
from domain.rerank import RerankRequest, RerankResponse, RerankResult, top_results


def cohere_rerank_body(request: RerankRequest, upstream_model: str) -> dict[str, Any]:
    body = rerank_body(request, upstream_model)
    if request.max_tokens_per_doc is not None:
        body["max_tokens_per_doc"] = request.max_tokens_per_doc
    return body


class _Lenient(BaseModel):
    # Validators built on the first reply parsed, not at import: a start loads every configured
    # provider's adapter, and building them cost it ~2 ms of CPU a provider.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class _Result(_Lenient):
    index: int
    relevance_score: float


class _BilledUnits(_Lenient):
    search_units: int | None = None


class _Meta(_Lenient):
    billed_units: _BilledUnits | None = None


class _Rerank(_Lenient):
    id: str | None = None
    results: list[_Result]
    meta: _Meta | None = None


def read_rerank(body: object, request: RerankRequest, model: str) -> RerankResponse:
    """A decoded v2 rerank reply; BadGatewayError when it is not one."""
    try:
        reply = _Rerank.model_validate(body)
    except ValidationError as exc:
        raise BadGatewayError("Cohere sent a malformed rerank reply.") from exc
    results = tuple(RerankResult(item.index, item.relevance_score) for item in reply.results)
    checked_indexes(results, request)
    billed = reply.meta.billed_units if reply.meta is not None else None
    units = billed.search_units if billed is not None and billed.search_units is not None else 1
    return RerankResponse(
        id=reply.id or f"rerank-{uuid.uuid4().hex}",
        model=model,
        results=top_results(request, results),
        usage=Usage(queries=units),
    )
