"""What an image call costs (its tokens, its images, never both for the same output) and budgets before it:
its cost reserved up front (the images asked for at the per-image price, or a bound on their tokens for a
model priced by the token), a call of known cost refused when it does not fit in what is left, and
concurrent calls seeing each other's reservations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.cache.memory_budget_reservations import InMemoryBudgetReservations
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from application.budgets import IMAGE_OUTPUT_TOKENS, BudgetGuard
from application.catalog import ModelCatalog
from application.pricing import Pricing
from domain.access import Principal, Via
from domain.budgets import BudgetExceededError, BudgetTerms
from domain.completions import Usage
from domain.deployments import Deployment
from domain.identity import Role, VirtualKey
from domain.images import ImageRequest
from domain.pricing import ModelPrices, cost_of, estimate_of
from domain.router_policy import RouterPolicy
from tests.fakes import FakeClock

START = 1_700_000_000.0
TOKEN = "c" * 64
PER_IMAGE = ModelPrices(output_per_image=Decimal("0.04"))
PER_TOKEN = ModelPrices(input=Decimal("0.000001"), output=Decimal("0.00003"))  # Gemini's image models


def guard(prices: ModelPrices = PER_IMAGE) -> BudgetGuard:
    deployment = Deployment(
        id="d1", model_name="painter", provider="gemini", upstream_model="m", prices=prices
    )
    return BudgetGuard(
        reservations=InMemoryBudgetReservations(),
        ledger=InMemorySpendLedger(),
        pricing=Pricing(catalog=None),
        catalog=ModelCatalog(deployments=[deployment]),
        clock=FakeClock(START),
        policy=RouterPolicy(),
    )


def caller(max_budget: str) -> Principal:
    key = VirtualKey(
        token=TOKEN,
        key_name="sk-...wxyz",
        key_alias="artist",
        budget=BudgetTerms(max_budget=Decimal(max_budget)),
        created_at=datetime.fromtimestamp(START, UTC),
    )
    return Principal(via=Via.VIRTUAL_KEY, role=Role.INTERNAL_USER, key=key)


def images(n: int) -> ImageRequest:
    return ImageRequest(model="painter", prompt="a lighthouse", n=n)


GEMINI_CALL = Usage(prompt_tokens=10, completion_tokens=1300, images=1)  # 1290 image tokens, 10 of text


def test_an_image_model_priced_by_the_token_costs_the_tokens_it_was_billed() -> None:
    assert cost_of(GEMINI_CALL, PER_TOKEN).total == Decimal("0.03901")


def test_an_output_price_per_image_is_the_price_of_the_output_its_tokens_are_not_charged_again() -> None:
    both = ModelPrices(
        input=Decimal("0.000001"), output=Decimal("0.00003"), output_per_image=Decimal("0.039")
    )

    cost = cost_of(GEMINI_CALL, both)

    assert (cost.input, cost.output) == (Decimal("0.00001"), Decimal("0.039"))
    assert cost_of(Usage(prompt_tokens=10, completion_tokens=5), both).output == Decimal("0.00015")


def test_the_estimate_of_an_image_call_counts_each_image_at_the_per_image_price() -> None:
    assert estimate_of(12, 0, PER_IMAGE, images=3) == Decimal("0.12")
    assert estimate_of(12, 0, ModelPrices(input_per_image=Decimal("0.01")), images=2) == Decimal("0.02")


async def test_an_image_call_reserves_its_images_at_their_price() -> None:
    budgets = guard()

    hold = await budgets.reserve(caller("1"), images(3), "c1")

    assert hold is not None and hold.amount == Decimal("0.12")
    [standing] = await budgets.standings(hold.lines)
    assert standing.reserved == Decimal("0.12")


async def test_a_budget_with_room_for_fewer_images_than_asked_refuses_the_call_and_keeps_its_room() -> None:
    budgets = guard()
    principal = caller("0.10")

    with pytest.raises(BudgetExceededError) as refused:
        await budgets.reserve(principal, images(3), "c1")

    assert refused.value.code == "budget_exceeded" and refused.value.status_code == 400
    assert "would cost $0.12" in refused.value.message
    # Nothing stays reserved: the two images there is room for are still admitted.
    hold = await budgets.reserve(principal, images(2), "c2")
    assert hold is not None and hold.amount == Decimal("0.08")


async def test_what_was_spent_counts_against_the_images_asked_for() -> None:
    budgets = guard()
    principal = caller("0.10")
    first = await budgets.reserve(principal, images(1), "c1")
    assert first is not None
    await budgets.settle(first, Decimal("0.04"))

    with pytest.raises(BudgetExceededError):
        await budgets.reserve(principal, images(2), "c2")
    assert await budgets.reserve(principal, images(1), "c3") is not None


async def test_concurrent_image_calls_see_each_others_reservations() -> None:
    budgets = guard()
    principal = caller("0.20")

    results = await asyncio.gather(
        *(budgets.reserve(principal, images(2), f"c{i}") for i in range(10)), return_exceptions=True
    )

    admitted = [result for result in results if not isinstance(result, BaseException)]
    # 0.08 a call: two fit in 0.20 (0.16); a third would take it to 0.24, past the limit.
    assert len(admitted) == 2
    assert all(
        isinstance(result, BudgetExceededError) for result in results if isinstance(result, BaseException)
    )
    [standing] = await budgets.standings(admitted[0].lines)
    assert standing.reserved == Decimal("0.16")


async def test_a_model_priced_by_the_token_is_bounded_per_image_and_overspends_by_one_call_at_most() -> None:
    budgets = guard(PER_TOKEN)
    principal = caller("1")
    bound = Decimal(len(b"a lighthouse")) * PER_TOKEN.input + 2 * IMAGE_OUTPUT_TOKENS * PER_TOKEN.output

    results = await asyncio.gather(
        *(budgets.reserve(principal, images(2), f"c{i}") for i in range(10)), return_exceptions=True
    )

    admitted = [result for result in results if not isinstance(result, BaseException)]
    assert admitted[0].amount == bound  # 0.3744...: an upper bound, not the price, so no call must fit
    assert len(admitted) == 3  # two fit below 1.00, the third starts with room left and is admitted
