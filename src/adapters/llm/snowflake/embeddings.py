"""Cortex's embed endpoint on the wire: `{model, text: [...]}` out; `{data: [{index, embedding: [[...]]}],
model, usage: {total_tokens}}` back, each embedding a list holding the one vector (as LiteLLM reads it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.llm.retrieval import texts_of
from domain.completions import Usage
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError


def embed_body(request: EmbeddingRequest, upstream_model: str) -> dict[str, Any]:
    texts = texts_of(request, "Snowflake Cortex", sized=False)
    return {**request.extra_body, "model": upstream_model, "text": texts}


class _Lenient(BaseModel):
    # Validators built on the first reply parsed, not at import: a start loads every configured
    # provider's adapter, and building them cost it ~2 ms of CPU a provider.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class _Item(_Lenient):
    index: int | None = None
    embedding: list[list[float]] | list[float]


class _Usage(_Lenient):
    total_tokens: int | None = None


class _Reply(_Lenient):
    data: list[_Item]
    model: str | None = None
    usage: _Usage | None = None


def read_embeddings(body: object, model: str) -> EmbeddingResponse:
    """A decoded embed reply; BadGatewayError when it is not one."""
    try:
        reply = _Reply.model_validate(body)
    except ValidationError as exc:
        raise BadGatewayError("Snowflake Cortex sent a malformed embed reply.") from exc
    data = tuple(
        Embedding(index=position if item.index is None else item.index, vector=_vector(item.embedding))
        for position, item in enumerate(reply.data)
    )
    tokens = reply.usage.total_tokens if reply.usage is not None else None
    return EmbeddingResponse(model=reply.model or model, data=data, usage=Usage(prompt_tokens=tokens or 0))


def _vector(embedding: list[list[float]] | list[float]) -> list[float]:
    # Cortex wraps each vector in a list of one.
    return embedding[0] if embedding and isinstance(embedding[0], list) else embedding  # type: ignore[return-value]
