"""Moderation requests and replies (OpenAI's moderations: is this text harmful, and in which way)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from decimal import Decimal
from typing import Any

from domain.completions import Usage
from domain.errors import BadRequestError
from domain.frozen import frozen

CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
    "violence/graphic",
)  # fmt: skip
"""OpenAI's moderation categories, as its replies name them."""


@frozen
class ModerationRequest:
    """`inputs` are the texts to classify, each judged on its own."""

    model: str
    inputs: tuple[str, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise BadRequestError("model is required", param="model")
        if not self.inputs:
            raise BadRequestError("input must not be empty", param="input")


@frozen
class ModerationResult:
    """One input's verdict: flagged when any category is; scores by category, 0 to 1."""

    flagged: bool
    categories: Mapping[str, bool]
    category_scores: Mapping[str, float]
    category_applied_input_types: Mapping[str, Any] | None = None


@frozen
class ModerationResponse:
    id: str
    model: str
    results: tuple[ModerationResult, ...]
    usage: Usage = field(default_factory=Usage)
    """Moderation upstreams report none: priced by the tokens the gateway counts, when at all."""
    cost: Decimal | None = None
    """What the call cost in USD, set by the gateway (None: the model has no known price)."""
