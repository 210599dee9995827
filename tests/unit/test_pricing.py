"""What calls cost: `cost_of` and `estimate_of` against figures worked out by hand, and `ModelPrices.over`."""

from __future__ import annotations

from decimal import Decimal

from adapters.llm.anthropic.replies import usage as anthropic_usage
from domain.completions import Usage
from domain.pricing import UNPRICED, Cost, ModelPrices, cost_of, estimate_of


def per_million(usd: str) -> Decimal:
    """A published price (USD per million tokens) per token, exactly."""
    return Decimal(usd) / 1_000_000


O3_MINI = ModelPrices(input=per_million("1.10"), output=per_million("4.40"), cache_read=per_million("0.55"))
SONNET = ModelPrices(
    input=per_million("3"),
    output=per_million("15"),
    cache_write=per_million("3.75"),  # 1.25x input
    cache_read=per_million("0.30"),  # 0.1x input
)
GEMINI_PRO = ModelPrices(
    input=per_million("1.25"),
    output=per_million("10"),
    cache_read=per_million("0.125"),
    tier_threshold=200_000,
    input_above_tier=per_million("2.50"),
    output_above_tier=per_million("15"),
    cache_read_above_tier=per_million("0.25"),
)
THINKER = ModelPrices(input=per_million("2"), output=per_million("8"), reasoning=per_million("10"))


def test_openai_usage_prices_cached_tokens_inside_the_prompt_and_reasoning_inside_the_completion() -> None:
    usage = Usage(prompt_tokens=10_000, completion_tokens=2_000, cached_tokens=4_000, reasoning_tokens=1_500)

    cost = cost_of(usage, O3_MINI)

    # input:  6,000 plain x $1.10/M = 0.0066; 4,000 cached x $0.55/M = 0.0022; 0.0066 + 0.0022 = 0.0088
    # output: 2,000 x $4.40/M = 0.0088 (no reasoning price: the 1,500 reasoning tokens are output tokens)
    assert cost == Cost(input=Decimal("0.0088"), output=Decimal("0.0088"))
    assert cost.total == Decimal("0.0176")


def test_anthropic_usage_prices_cache_writes_at_their_price_and_reads_at_theirs() -> None:
    usage = anthropic_usage(1_000, 500, cache_read=20_000, cache_creation=5_000)

    cost = cost_of(usage, SONNET)

    # input:  1,000 x $3/M = 0.003; 20,000 read x $0.30/M = 0.006; 5,000 written x $3.75/M = 0.01875
    #         0.003 + 0.006 + 0.01875 = 0.02775
    # output: 500 x $15/M = 0.0075;  total 0.02775 + 0.0075 = 0.03525
    assert usage.prompt_tokens == 26_000
    assert cost == Cost(input=Decimal("0.02775"), output=Decimal("0.0075"))
    assert cost.total == Decimal("0.03525")


def test_cache_reads_and_writes_cost_the_input_price_when_the_model_has_none_of_its_own() -> None:
    usage = anthropic_usage(1_000, 500, cache_read=20_000, cache_creation=5_000)

    cost = cost_of(usage, ModelPrices(input=per_million("3"), output=per_million("15")))

    # input: (1,000 + 20,000 + 5,000) x $3/M = 0.078;  output: 500 x $15/M = 0.0075
    assert cost == Cost(input=Decimal("0.078"), output=Decimal("0.0075"))


def test_a_prompt_at_the_long_context_threshold_pays_the_base_prices() -> None:
    cost = cost_of(Usage(prompt_tokens=200_000, completion_tokens=1_000), GEMINI_PRO)

    # 200,000 is not above 200,000:  200,000 x $1.25/M = 0.25;  1,000 x $10/M = 0.01
    assert cost == Cost(input=Decimal("0.25"), output=Decimal("0.01"))


def test_a_prompt_above_the_long_context_threshold_pays_the_tier_prices_on_every_token() -> None:
    usage = Usage(prompt_tokens=250_000, completion_tokens=2_000, cached_tokens=50_000)

    cost = cost_of(usage, GEMINI_PRO)

    # input:  200,000 plain x $2.50/M = 0.5; 50,000 cached x $0.25/M = 0.0125; 0.5 + 0.0125 = 0.5125
    # output: 2,000 x $15/M = 0.03;  total 0.5425
    assert cost == Cost(input=Decimal("0.5125"), output=Decimal("0.03"))
    assert cost.total == Decimal("0.5425")


def test_reasoning_priced_apart_costs_its_own_price() -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=3_000, reasoning_tokens=2_000)

    cost = cost_of(usage, THINKER)

    # input:  1,000 x $2/M = 0.002
    # output: (3,000 - 2,000) x $8/M = 0.008; 2,000 reasoning x $10/M = 0.02; 0.008 + 0.02 = 0.028
    assert cost == Cost(input=Decimal("0.002"), output=Decimal("0.028"))
    assert cost.total == Decimal("0.03")


def test_an_embedding_costs_its_input_only() -> None:
    cost = cost_of(Usage(prompt_tokens=12_345), ModelPrices(input=per_million("0.02")))

    # 12,345 x $0.02/M = 0.0002469
    assert cost == Cost(input=Decimal("0.0002469"), output=Decimal(0))


def test_a_per_call_price_is_added_to_the_input() -> None:
    sonar = ModelPrices(input=per_million("1"), output=per_million("1"), per_request=Decimal("0.012"))

    cost = cost_of(Usage(prompt_tokens=500, completion_tokens=300), sonar)

    # input:  500 x $1/M = 0.0005 + $12 per thousand calls = 0.012 -> 0.0125;  output: 300 x $1/M = 0.0003
    assert cost == Cost(input=Decimal("0.0125"), output=Decimal("0.0003"))
    assert cost.total == Decimal("0.0128")


def test_a_model_priced_only_per_call_is_priced() -> None:
    assert cost_of(Usage(), ModelPrices(per_request=Decimal("0.005"))) == Cost(input=Decimal("0.005"))


def test_cache_counts_beyond_the_prompt_are_held_to_it() -> None:
    cost = cost_of(Usage(prompt_tokens=100, cached_tokens=150), O3_MINI)

    # all 100 prompt tokens read from the cache: 100 x $0.55/M = 0.000055
    assert cost == Cost(input=Decimal("0.000055"))


def test_an_unpriced_model_has_no_cost_rather_than_a_zero_one() -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=100)

    assert cost_of(usage, UNPRICED) is None
    assert cost_of(usage, ModelPrices(output=per_million("10"))) is None  # no input price: not priced
    assert estimate_of(1_000, 100, UNPRICED) is None


def test_a_free_model_costs_zero() -> None:
    free = ModelPrices(input=Decimal(0), output=Decimal(0))

    assert cost_of(Usage(prompt_tokens=1_000, completion_tokens=100), free) == Cost()


def test_the_estimate_prices_the_whole_output_at_the_dearer_of_output_and_reasoning() -> None:
    # 1,000 x $2/M = 0.002;  4,000 x $10/M (reasoning, dearer than $8/M output) = 0.04;  0.042
    assert estimate_of(1_000, 4_000, THINKER) == Decimal("0.042")


def test_the_estimate_of_a_long_prompt_uses_the_tier_prices() -> None:
    # 300,000 x $2.50/M = 0.75;  1,000 x $15/M = 0.015;  0.765
    assert estimate_of(300_000, 1_000, GEMINI_PRO) == Decimal("0.765")


def test_the_estimate_includes_a_per_call_price() -> None:
    sonar = ModelPrices(input=per_million("1"), output=per_million("1"), per_request=Decimal("0.012"))

    # 500 x $1/M = 0.0005;  300 x $1/M = 0.0003;  + 0.012 = 0.0128
    assert estimate_of(500, 300, sonar) == Decimal("0.0128")


def test_costs_add_up() -> None:
    assert Cost(Decimal("0.1"), Decimal("0.2")) + Cost(Decimal("0.3"), Decimal("0.4")) == Cost(
        Decimal("0.4"), Decimal("0.6")
    )


# --- config over catalog ---------------------------------------------------------------------------


def test_config_prices_win_and_the_catalog_fills_the_rest() -> None:
    configured = ModelPrices(input=per_million("1"))

    merged = configured.over(SONNET)

    assert merged == ModelPrices(
        input=per_million("1"),
        output=per_million("15"),
        cache_write=per_million("3.75"),
        cache_read=per_million("0.30"),
    )


def test_prices_over_nothing_are_themselves() -> None:
    assert SONNET.over(None) is SONNET
    assert UNPRICED.over(SONNET) == SONNET


def test_a_tier_at_the_same_threshold_merges_price_by_price() -> None:
    configured = ModelPrices(tier_threshold=200_000, input_above_tier=per_million("2"))

    merged = configured.over(GEMINI_PRO)

    assert (merged.tier_threshold, merged.input_above_tier) == (200_000, per_million("2"))
    assert merged.output_above_tier == per_million("15")


def test_a_configured_tier_at_another_threshold_takes_no_tier_price_from_the_catalog() -> None:
    catalog = ModelPrices(
        input=per_million("2.50"),
        output=per_million("15"),
        tier_threshold=272_000,
        input_above_tier=per_million("5"),
        output_above_tier=per_million("22.50"),
    )
    configured = ModelPrices(tier_threshold=200_000, input_above_tier=per_million("4"))

    merged = configured.over(catalog)

    # the catalog's $22.50 belongs above 272k; charging it from 200k would overcharge
    assert merged == ModelPrices(
        input=per_million("2.50"),
        output=per_million("15"),
        tier_threshold=200_000,
        input_above_tier=per_million("4"),
    )
