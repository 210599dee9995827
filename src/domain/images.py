"""Image generation requests and replies (OpenAI's images/generations: pictures made from a prompt)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from decimal import Decimal
from typing import Any

from domain.completions import Usage
from domain.errors import BadRequestError
from domain.frozen import frozen

RESPONSE_FORMATS = ("url", "b64_json")
MAX_IMAGES = 10
"""OpenAI's bound on `n`."""


@frozen
class ImageRequest:
    """`None` for an option means the caller left it to the model (and it is not sent upstream)."""

    model: str
    prompt: str
    n: int | None = None
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    response_format: str | None = None
    """`url` or `b64_json`; None: the model's default (a URL for DALL-E, base64 for the GPT image models)."""
    background: str | None = None
    output_format: str | None = None
    user: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise BadRequestError("model is required", param="model")
        if not self.prompt:
            raise BadRequestError("prompt must not be empty", param="prompt")
        if self.n is not None and not 1 <= self.n <= MAX_IMAGES:
            raise BadRequestError(f"n must be between 1 and {MAX_IMAGES}", param="n")
        if self.response_format is not None and self.response_format not in RESPONSE_FORMATS:
            raise BadRequestError("response_format must be 'url' or 'b64_json'", param="response_format")

    @property
    def count(self) -> int:
        """How many images the call asks for."""
        return self.n or 1

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every text the call sends (what metering and budgets count)."""
        return (self.prompt,)


@frozen
class GeneratedImage:
    """One image: its bytes as base64, or a URL (an https link, or a `data:` URL), as the call asked."""

    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


@frozen
class ImageResponse:
    created: int
    model: str
    images: tuple[GeneratedImage, ...]
    usage: Usage = field(default_factory=Usage)
    """`images`: the pictures made (priced per image); tokens where the upstream reports them (GPT image
    models)."""
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None
    id: str = ""
    cost: Decimal | None = None
    """What the call cost in USD, set by the gateway (None: the model has no known price)."""
