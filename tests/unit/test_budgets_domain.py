"""The budget domain (domain/budgets.py), called directly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.budgets import NO_BUDGET, ZERO, BudgetTerms
from domain.errors import BadRequestError
from domain.identity import Budget

# BudgetTerms: the terms every budget-bearing record keeps ------------------------------------------

RESET = datetime(2025, 1, 31, tzinfo=UTC)
FULL = BudgetTerms(
    max_budget=Decimal("10"),
    soft_budget=Decimal("8"),
    budget_duration="30d",
    budget_id="tier-1",
    model_max_budget={"gpt-x": Decimal("2.5")},
    spend=Decimal("1.25"),
    budget_reset_at=RESET,
)


class TestBudgetTerms:
    def test_no_budget_limits_nothing_and_has_spent_nothing(self) -> None:
        assert BudgetTerms() == NO_BUDGET
        assert not NO_BUDGET.limited and NO_BUDGET.spend == ZERO and NO_BUDGET.model_max_budget == {}

    @pytest.mark.parametrize(
        ("changes", "param"),
        [
            ({"max_budget": Decimal("-0.01")}, "max_budget"),
            ({"soft_budget": Decimal(-1)}, "soft_budget"),
            ({"model_max_budget": {"gpt-x": Decimal(-2)}}, "model_max_budget"),
            ({"spend": Decimal("NaN")}, "spend"),
            ({"max_budget": Decimal("NaN")}, "max_budget"),
            ({"soft_budget": Decimal("Infinity")}, "soft_budget"),
            ({"budget_duration": "forever"}, "budget_duration"),
        ],
    )
    def test_a_negative_or_endless_amount_or_a_bad_duration_is_a_400_naming_the_field(
        self, changes: dict[str, Any], param: str
    ) -> None:
        with pytest.raises(BadRequestError) as refused:
            BudgetTerms(**changes)
        assert refused.value.param == param

    def test_the_message_names_the_model_of_a_negative_per_model_budget(self) -> None:
        with pytest.raises(BadRequestError, match=r"model_max_budget\.gpt-x must be zero or more"):
            BudgetTerms(model_max_budget={"gpt-x": Decimal(-2)})

    @pytest.mark.parametrize(
        "changes", [{"max_budget": 0.1}, {"spend": 1.5}, {"model_max_budget": {"m": 0.5}}]
    )
    def test_money_as_a_float_is_refused_as_a_programming_error(self, changes: dict[str, Any]) -> None:
        with pytest.raises(TypeError, match="must be a Decimal"):
            BudgetTerms(**changes)

    def test_zero_budgets_and_whole_numbers_are_amounts(self) -> None:
        terms = BudgetTerms(max_budget=Decimal(0), soft_budget=Decimal(0), model_max_budget={"m": 3})
        assert terms.limited and terms.max_budget == 0

    def test_a_reset_time_without_a_zone_is_refused(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            BudgetTerms(budget_reset_at=datetime(2025, 1, 1))

    @pytest.mark.parametrize(
        "terms",
        [
            BudgetTerms(max_budget=Decimal(1)),
            BudgetTerms(soft_budget=Decimal(1)),
            BudgetTerms(model_max_budget={"m": Decimal(1)}),
        ],
    )
    def test_any_limit_makes_terms_limited(self, terms: BudgetTerms) -> None:
        assert terms.limited

    def test_a_duration_a_shared_budget_or_spend_alone_limit_nothing(self) -> None:
        assert not BudgetTerms(budget_duration="1d", budget_id="b", spend=Decimal(5)).limited

    def test_or_else_without_shared_terms_is_these_terms(self) -> None:
        assert FULL.or_else(None) is FULL

    def test_or_else_takes_each_limit_the_record_leaves_unset_from_the_shared_terms(self) -> None:
        own = BudgetTerms(budget_id="tier-1", spend=Decimal("0.5"))
        shared = replace(FULL, budget_id=None, spend=ZERO)
        merged = own.or_else(shared)
        assert (merged.max_budget, merged.soft_budget, merged.budget_duration) == (
            Decimal("10"),
            Decimal("8"),
            "30d",
        )
        assert merged.model_max_budget == {"gpt-x": Decimal("2.5")}
        # What the record is and has done stays its own.
        assert (merged.budget_id, merged.spend, merged.budget_reset_at) == ("tier-1", Decimal("0.5"), None)

    def test_or_else_keeps_every_limit_the_record_sets_even_a_zero(self) -> None:
        own = BudgetTerms(
            max_budget=ZERO, soft_budget=Decimal(1), budget_duration="1h", model_max_budget={"m": Decimal(1)}
        )
        assert own.or_else(FULL) == own

    def test_a_shared_budget_points_at_no_other_and_holds_no_spend(self) -> None:
        assert Budget("b", BudgetTerms(max_budget=Decimal(1))).terms.max_budget == 1
        with pytest.raises(ValueError, match="no other budget"):
            Budget("b", BudgetTerms(budget_id="other"))
        with pytest.raises(ValueError, match="no spend"):
            Budget("b", BudgetTerms(spend=Decimal(1)))


class TestPromptTokenBound:
    """The bound a budget reservation counts a prompt by never falls short of a real tokenizer's count."""

    @pytest.mark.parametrize(
        "text",
        [
            "What is the capital of France?",
            "def f(x):\n    return {k: v for k, v in x.items() if v}\n",
            "東京は日本の首都です。",
            "🙂🚀 emoji heavy 🧪🧪🧪",
            "a" * 500,
        ],
    )
    def test_the_bound_is_at_least_the_tokenizers_count(self, text: str) -> None:
        from adapters.tokens.tiktoken_counter import TiktokenTokenCounter
        from domain.budgets import prompt_token_bound
        from domain.messages import Message, Role

        messages = (Message(Role.SYSTEM, "Be brief."), Message(Role.USER, text))

        counted = TiktokenTokenCounter().count_messages(messages, "gpt-4o-mini")

        assert prompt_token_bound(messages) >= counted
