"""What a call costs: a model's prices by token kind, and cost as a pure function of prices and usage.

Money is Decimal end to end (USD). Usage is read as the domain counts it (`domain.completions.Usage`):
`prompt_tokens` holds every input token, cache reads and writes included (Anthropic's separate counts are
added in by its adapter), and `completion_tokens` holds the reasoning tokens. So one function prices
OpenAI's and Anthropic's accounting alike.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from domain.completions import Usage
from domain.frozen import frozen

ZERO = Decimal(0)

DEFAULT_TIER_THRESHOLD = 200_000
"""Prompt tokens above which long-context prices apply (LiteLLM's `*_above_200k_tokens` keys)."""


@frozen
class ModelPrices:
    """USD per token for one model (per call for `per_request`). None means "not set": cache reads and
    writes then cost the input price, reasoning the output price, and a long-context tier the base price.
    A model is priced once its input or per-request price is known."""

    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    per_request: Decimal | None = None
    per_query: Decimal | None = None
    """USD per search unit of a rerank (LiteLLM's `input_cost_per_query`)."""
    per_second: Decimal | None = None
    """USD per second of transcribed audio (LiteLLM's `input_cost_per_second`)."""
    per_character: Decimal | None = None
    """USD per character of text spoken (LiteLLM's `input_cost_per_character`)."""
    input_per_image: Decimal | None = None
    output_per_image: Decimal | None = None
    """USD per image made (LiteLLM's `input_cost_per_image`, `output_cost_per_image`)."""
    tier_threshold: int | None = None
    """Prompt tokens above which the `*_above_tier` prices apply; None: no long-context tier."""
    input_above_tier: Decimal | None = None
    output_above_tier: Decimal | None = None
    cache_read_above_tier: Decimal | None = None
    cache_write_above_tier: Decimal | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Decimal) and (value < 0 or not value.is_finite()):
                raise ValueError(f"{field.name} must be a finite price of zero or more, got {value}")

    @property
    def priced(self) -> bool:
        return (
            self.input is not None
            or self.per_request is not None
            or self.per_query is not None
            or self.per_second is not None
            or self.per_character is not None
            or self.input_per_image is not None
            or self.output_per_image is not None
        )

    def over(self, under: ModelPrices | None) -> ModelPrices:
        """These prices, each one not set here taken from `under` (config over the catalog). A
        long-context tier is one threshold with its prices: when both set a tier at different thresholds,
        `under`'s tier prices are left out, as they belong to another threshold."""
        if under is None:
            return self
        own_tier = self.tier_threshold is not None and self.tier_threshold != under.tier_threshold
        merged = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and not (own_tier and f.name.endswith("_above_tier")):
                value = getattr(under, f.name)
            merged[f.name] = value
        return ModelPrices(**merged)


UNPRICED = ModelPrices()


@frozen
class Cost:
    """A call's cost in USD, split as clients show it: input (prompt, cache reads and writes, per-call
    price) and output (completion and reasoning)."""

    input: Decimal = ZERO
    output: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.input + self.output

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.input + other.input, self.output + other.output)


def cost_of(usage: Usage, prices: ModelPrices) -> Cost | None:
    """What `usage` costs at `prices`; None when the model has no known price.

    Input: plain prompt tokens at the input price, cache reads and cache writes at theirs; output:
    completion tokens at the output price, the reasoning part of them at the reasoning price where one is
    set. Above the long-context threshold (on the whole prompt) the tier's prices replace the base ones.
    Images made cost the per-image prices; where an output price per image is set, it is the price of all
    the call made, so its output tokens (an image model's billed image tokens) are not charged again.
    """
    if not prices.priced:
        return None
    long = prices.tier_threshold is not None and usage.prompt_tokens > prices.tier_threshold
    base_in = _pick(long, prices.input_above_tier, prices.input) or ZERO
    base_out = _pick(long, prices.output_above_tier, prices.output) or ZERO
    read = _pick(long, prices.cache_read_above_tier, prices.cache_read)
    write = _pick(long, prices.cache_write_above_tier, prices.cache_write)
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    created = min(usage.cache_creation_tokens, usage.prompt_tokens - cached)
    plain = usage.prompt_tokens - cached - created
    reasoning = min(usage.reasoning_tokens, usage.completion_tokens) if prices.reasoning is not None else 0
    input_cost = (
        plain * base_in
        + cached * (read if read is not None else base_in)
        + created * (write if write is not None else base_in)
        + (prices.per_request or ZERO)
        + usage.queries * (prices.per_query or ZERO)
        + Decimal(str(usage.audio_seconds)) * (prices.per_second or ZERO)
        + usage.characters * (prices.per_character or ZERO)
        + usage.images * (prices.input_per_image or ZERO)
    )
    if usage.images and prices.output_per_image is not None:
        return Cost(input_cost, usage.images * prices.output_per_image)
    output_cost = (usage.completion_tokens - reasoning) * base_out + reasoning * (prices.reasoning or ZERO)
    return Cost(input_cost, output_cost)


def _pick(long: bool, tiered: Decimal | None, base: Decimal | None) -> Decimal | None:
    return tiered if long and tiered is not None else base


def estimate_of(
    prompt_tokens: int, output_tokens: int, prices: ModelPrices, *, images: int = 0
) -> Decimal | None:
    """An upper estimate of a call's cost before it is made: its prompt at the plain input price,
    `output_tokens` (its `max_tokens`, else the model's output limit) at the dearer of output and
    reasoning prices, and the `images` it asks for at the per-image prices. None when the model has no
    known price."""
    return estimate_at(prompt_tokens, output_tokens, worst_case(prices), images=images)


def worst_case(prices: ModelPrices) -> ModelPrices:
    """The prices `estimate_of` charges: the dearer of output and reasoning for all output, nothing off
    for cache reads. A function of `prices` alone, which a caller may keep per model."""
    output = prices.output or ZERO
    if prices.reasoning is not None:
        output = max(output, prices.reasoning)
    return ModelPrices(
        input=prices.input,
        output=output,
        per_request=prices.per_request,
        tier_threshold=prices.tier_threshold,
        input_above_tier=prices.input_above_tier,
        output_above_tier=max(prices.output_above_tier or ZERO, output) if prices.output_above_tier else None,
        input_per_image=prices.input_per_image,
        output_per_image=prices.output_per_image,
    )


def estimate_at(
    prompt_tokens: int, output_tokens: int, worst: ModelPrices, *, images: int = 0
) -> Decimal | None:
    """`estimate_of` at prices already made `worst_case`."""
    cost = cost_of(Usage(prompt_tokens, output_tokens, images=images), worst)
    return cost.total if cost is not None else None
