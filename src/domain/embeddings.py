"""Embedding requests and replies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.completions import Usage
from domain.errors import BadRequestError
from domain.frozen import frozen


class EncodingFormat(StrEnum):
    FLOAT = "float"
    BASE64 = "base64"


@frozen
class EmbeddingRequest:
    """`inputs` are texts, or token arrays (lists of ints), never a mix."""

    model: str
    inputs: tuple[str, ...] | tuple[tuple[int, ...], ...]
    encoding_format: EncodingFormat = EncodingFormat.FLOAT
    dimensions: int | None = None
    user: str | None = None
    mock_response: Sequence[float] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise BadRequestError("model is required", param="model")
        if not self.inputs:
            raise BadRequestError("input must not be empty", param="input")
        if self.dimensions is not None and self.dimensions < 1:
            raise BadRequestError("dimensions must be at least 1", param="dimensions")


@frozen
class Embedding:
    """One vector; `vector` is any float sequence (an `array('f')` keeps decoding cheap)."""

    index: int
    vector: Sequence[float]


@frozen
class EmbeddingResponse:
    model: str
    data: tuple[Embedding, ...]
    usage: Usage
    cost: Decimal | None = None
    """What the call cost in USD, set by the gateway (None: the model has no known price)."""
