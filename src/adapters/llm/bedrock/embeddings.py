"""Embedding requests as InvokeModel bodies of the embedding models Bedrock hosts, and their replies.

Amazon Titan Text Embeddings take one text per call (`inputText`); v2 takes `dimensions`. Cohere Embed
takes up to 96 `texts` per call; v4 takes `output_dimension`. Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from adapters.llm.bedrock import wire
from adapters.llm.bedrock.replies import parse
from domain.embeddings import EmbeddingRequest
from domain.errors import BadGatewayError, UnsupportedParameterError

Family = Literal["titan", "cohere"]
COHERE_BATCH = 96  # the most texts Cohere Embed on Bedrock takes in one call
_TITAN = re.compile(r"(^|[.:/])amazon\.titan-embed-(?:text|g1-text)", re.I)
_TITAN_V1 = re.compile(r"titan-embed-(?:text-v1|g1-text)", re.I)
_COHERE = re.compile(r"(^|[.:/])cohere\.embed", re.I)
_COHERE_V3 = re.compile(r"cohere\.embed-(?:english|multilingual)-v3", re.I)


def family(model: str) -> Family:
    if _TITAN.search(model):
        return "titan"
    if _COHERE.search(model):
        return "cohere"
    raise UnsupportedParameterError(
        f"Bedrock embeddings are served for Amazon Titan Text and Cohere Embed models, not {model}.",
        param="model",
    )


def texts(request: EmbeddingRequest) -> tuple[str, ...]:
    if not isinstance(request.inputs[0], str):
        raise UnsupportedParameterError(
            "Bedrock embedding models take text, not token arrays.", param="input"
        )
    return request.inputs  # type: ignore[return-value]


def dimensions(request: EmbeddingRequest, model: str, kind: Family, *, drop: bool) -> int | None:
    """The dimensions to ask for, or None; UnsupportedParameterError for a model that has no such
    setting (Titan v1, Cohere v3), unless drop_params lets them go."""
    if request.dimensions is None:
        return None
    fixed = _TITAN_V1.search(model) if kind == "titan" else _COHERE_V3.search(model)
    if not fixed:
        return request.dimensions
    if drop:
        return None
    raise UnsupportedParameterError(
        f"bedrock does not support the parameter 'dimensions' for model {model}; send drop_params: true "
        "(or set it in the config) to drop it.",
        param="dimensions",
    )


def titan_body(text: str, dimensions: int | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"inputText": text}
    if dimensions is not None:
        body["dimensions"] = dimensions
    body.update(extra)
    return body


def cohere_body(batch: Sequence[str], dimensions: int | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "texts": list(batch),
        "input_type": "search_document",
        "embedding_types": ["float"],
    }
    if dimensions is not None:
        body["output_dimension"] = dimensions
    body.update(extra)
    return body


def read_titan(content: bytes) -> tuple[list[float], int]:
    """(the vector, its input's token count)."""
    reply = parse(wire.TitanEmbedding, content, "Titan embedding")
    return reply.embedding, reply.inputTextTokenCount or 0


def read_cohere(content: bytes, count: int) -> list[list[float]]:
    """The float vectors of `count` texts, whether Cohere answered `embeddings_floats` (a list) or
    `embeddings_by_type` (vectors by type)."""
    reply = parse(wire.CohereEmbeddings, content, "Cohere embeddings reply")
    vectors = reply.embeddings
    if isinstance(vectors, dict):
        if "float" not in vectors:
            raise BadGatewayError("Bedrock sent Cohere embeddings without float vectors.")
        vectors = vectors["float"]
    if len(vectors) != count:
        raise BadGatewayError(f"Bedrock sent {len(vectors)} Cohere embeddings for {count} texts.")
    return vectors


def token_count(headers: Mapping[str, str]) -> int:
    """Bedrock reports the input tokens of an InvokeModel call in a header."""
    value = headers.get("x-amzn-bedrock-input-token-count")
    return int(value) if value and value.isdigit() else 0
