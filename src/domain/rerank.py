"""Rerank requests and replies (Cohere's rerank: documents ordered by relevance to a query)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from decimal import Decimal
from typing import Any

from domain.completions import Usage
from domain.errors import BadRequestError
from domain.frozen import frozen


@frozen
class RerankRequest:
    model: str
    query: str
    documents: tuple[str, ...]
    top_n: int | None = None
    """How many results to return, the most relevant first; None: one per document."""
    return_documents: bool = False
    """Whether each result carries its document's text."""
    max_tokens_per_doc: int | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise BadRequestError("model is required", param="model")
        if not self.documents:
            raise BadRequestError("documents must not be empty", param="documents")
        if self.top_n is not None and self.top_n < 1:
            raise BadRequestError("top_n must be at least 1", param="top_n")

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every text the call sends: the query, then the documents (what metering and budgets count)."""
        return (self.query, *self.documents)


@frozen
class RerankResult:
    index: int
    """The document's position in the request."""
    relevance_score: float
    document: str | None = None


@frozen
class RerankResponse:
    id: str
    model: str
    results: tuple[RerankResult, ...]
    """The most relevant first."""
    usage: Usage = field(default_factory=Usage)
    """`queries`: the search units billed; tokens where the upstream reports them."""
    cost: Decimal | None = None


def top_results(request: RerankRequest, results: tuple[RerankResult, ...]) -> tuple[RerankResult, ...]:
    """`results` the most relevant first, cut to `top_n`, each with its document when the caller asked."""
    ranked = sorted(results, key=lambda result: -result.relevance_score)[: request.top_n]
    return tuple(
        RerankResult(
            result.index,
            result.relevance_score,
            request.documents[result.index] if request.return_documents else None,
        )
        for result in ranked
    )
