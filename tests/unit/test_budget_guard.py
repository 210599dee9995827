"""Budgets on the request path, edge to edge: which budgets a call must fit, reservations that hold under
concurrency, settlement to the real cost, windows that reset on the clock, and outages that never fail a
call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.cache.memory_budget_reservations import InMemoryBudgetReservations
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from application.budgets import BudgetGuard
from application.catalog import ModelCatalog
from application.pricing import Pricing
from domain.access import Principal, Via
from domain.budget_policy import budget_lines
from domain.budgets import BudgetExceededError, BudgetTerms
from domain.completions import CompletionRequest, SamplingParams, Usage
from domain.deployments import Deployment
from domain.identity import Budget, EndUser, Role, Team, User, VirtualKey
from domain.messages import Message
from domain.messages import Role as MessageRole
from domain.pricing import ModelPrices
from domain.router_policy import RouterPolicy
from domain.spend import Caller, SpendRecord
from ports.budget_reservations import BudgetsUnavailable
from ports.unit_of_work import StoreUnavailable
from tests.fakes import FakeClock

START = 1_700_000_000.0
CREATED = datetime.fromtimestamp(START, UTC)
TOKEN = "b" * 64
# One token in and out costs 1 cent each. A call's prompt is bounded by its size in bytes plus framing:
# "three words here" is 16 bytes, + 4 for the message + 4 for the reply = 24 tokens; with max_tokens 10
# it is estimated at 0.34 (24 in + 10 out).
CENT = ModelPrices(input=Decimal("0.01"), output=Decimal("0.01"))


def key(**budget: object) -> VirtualKey:
    return VirtualKey(
        token=TOKEN, key_name="sk-...abcd", key_alias="ci", budget=BudgetTerms(**budget), created_at=CREATED
    )


def principal(key: VirtualKey | None = None, **records: object) -> Principal:
    return Principal(via=Via.VIRTUAL_KEY, role=Role.INTERNAL_USER, key=key, **records)


def ask(max_tokens: int = 10) -> CompletionRequest:
    return CompletionRequest(
        model="gpt-x",
        messages=(Message(MessageRole.USER, "three words here"),),
        params=SamplingParams(max_tokens=max_tokens),
    )


class Rig:
    def __init__(self, reservations: InMemoryBudgetReservations | None = None) -> None:
        self.clock = FakeClock(START)
        self.ledger = InMemorySpendLedger()
        self.reservations = reservations or InMemoryBudgetReservations()
        self.alerts: list[tuple[str, Decimal]] = []
        deployment = Deployment(
            id="d1", model_name="gpt-x", provider="openai", upstream_model="m", prices=CENT
        )
        self.guard = BudgetGuard(
            reservations=self.reservations,
            ledger=self.ledger,
            pricing=Pricing(catalog=None),
            catalog=ModelCatalog(deployments=[deployment]),
            clock=self.clock,
            policy=RouterPolicy(),
            on_soft_budget=lambda line, spent: self.alerts.append((line.label, spent)),
        )

    async def spend(self, cost: str, *, at: float | None = None, request_id: str = "r0") -> None:
        when = datetime.fromtimestamp(at if at is not None else self.clock.now(), UTC)
        await self.ledger.write(
            [
                SpendRecord(
                    request_id=request_id,
                    call_type="chat",
                    started_at=when,
                    ended_at=when,
                    model_group="gpt-x",
                    caller=Caller(key_hash=TOKEN),
                    usage=Usage(1, 1),
                    cost=Decimal(cost),
                )
            ]
        )


def test_a_call_must_fit_the_budgets_of_its_key_user_team_organization_and_end_user() -> None:
    caller = principal(
        key(max_budget=Decimal(1), model_max_budget={"gpt-x": Decimal("0.5"), "other": Decimal(9)}),
        user=User("u1", budget=BudgetTerms(max_budget=Decimal(2))),
        team=Team("t1", budget=BudgetTerms(soft_budget=Decimal(3))),
        end_user=EndUser("c1", budget=BudgetTerms(max_budget=Decimal(4), budget_duration="1d")),
    )

    lines = budget_lines(caller, "gpt-x", START)

    assert [(line.subject, line.limit, line.soft) for line in lines] == [
        (f"key:{TOKEN}", Decimal(1), None),
        (f"key:{TOKEN}:model:gpt-x", Decimal("0.5"), None),
        ("user:u1", Decimal(2), None),
        ("team:t1", None, Decimal(3)),
        ("end_user:c1", Decimal(4), None),
    ]


def test_a_record_without_limits_of_its_own_takes_those_of_its_shared_budget() -> None:
    shared = Budget("b1", terms=BudgetTerms(max_budget=Decimal(7), budget_duration="1h"))
    caller = principal(key(budget_id="b1"), budgets={"b1": shared})

    [line] = budget_lines(caller, "gpt-x", START + 90)

    assert (line.subject, line.limit) == (f"key:{TOKEN}", Decimal(7))
    assert (line.window.start, line.window.end) == (START, START + 3600)


async def test_a_call_within_budget_is_admitted_and_settled_to_its_real_cost() -> None:
    rig = Rig()

    hold = await rig.guard.reserve(principal(key(max_budget=Decimal(1))), ask(), "c1")

    assert hold is not None and hold.amount == Decimal("0.34")
    assert (await rig.guard.standings(hold.lines))[0].reserved == Decimal("0.34")
    await rig.guard.settle(hold, Decimal("0.05"))
    [standing] = await rig.guard.standings(hold.lines)
    assert (standing.spent, standing.reserved) == (Decimal("0.05"), 0)


async def test_a_spent_budget_refuses_with_400_naming_the_budget_its_limit_spend_and_reset() -> None:
    rig = Rig()
    await rig.spend("1.00")

    with pytest.raises(BudgetExceededError) as refused:
        await rig.guard.reserve(principal(key(max_budget=Decimal(1), budget_duration="1d")), ask(), "c1")

    error = refused.value
    assert (error.status_code, error.code, error.limit, error.spent) == (400, "budget_exceeded", 1, 1)
    assert "key ci" in error.message and "$1.00 of its $1.00 budget" in error.message
    assert error.resets_at == CREATED + timedelta(days=1)
    assert "2023-11-15T22:13:20Z" in error.message


async def test_concurrent_calls_overspend_by_at_most_one_estimate() -> None:
    rig = Rig()
    caller = principal(key(max_budget=Decimal(1)))

    results = await asyncio.gather(
        *(rig.guard.reserve(caller, ask(), f"c{i}") for i in range(50)), return_exceptions=True
    )

    admitted = [r for r in results if not isinstance(r, BaseException)]
    # 0.34 a call: 2 fit below 1.00 (0.68), the third starts with 0.32 of room and is the one overspend
    assert len(admitted) == 3
    assert all(isinstance(r, BudgetExceededError) for r in results if isinstance(r, BaseException))


async def test_a_window_that_ends_resets_the_budget_on_the_clock() -> None:
    rig = Rig()
    caller = principal(key(max_budget=Decimal("0.10"), budget_duration="30s"))
    hold = await rig.guard.reserve(caller, ask(), "c1")
    assert hold is not None
    await rig.guard.settle(hold, Decimal("0.10"))
    with pytest.raises(BudgetExceededError):
        await rig.guard.reserve(caller, ask(), "c2")

    rig.clock.advance(30)

    assert await rig.guard.reserve(caller, ask(), "c3") is not None


async def test_a_window_is_seeded_from_what_the_ledger_recorded_in_it() -> None:
    rig = Rig()
    await rig.spend("0.70", at=START - 10, request_id="before")  # the previous 1h window
    await rig.spend("0.95", at=START + 100, request_id="inside")
    rig.clock.advance(200)

    with pytest.raises(BudgetExceededError) as refused:
        await rig.guard.reserve(principal(key(max_budget=Decimal("0.95"), budget_duration="1h")), ask(), "c")

    assert refused.value.spent == Decimal("0.95")


async def test_a_soft_budget_never_refuses_but_is_reported_once_crossed() -> None:
    rig = Rig()
    caller = principal(key(soft_budget=Decimal("0.10")))

    first = await rig.guard.reserve(caller, ask(), "c1")
    await rig.guard.settle(first, Decimal("0.08"))
    second = await rig.guard.reserve(caller, ask(), "c2")
    await rig.guard.settle(second, Decimal("0.08"))
    third = await rig.guard.reserve(caller, ask(), "c3")
    await rig.guard.settle(third, Decimal("0.08"))

    assert rig.alerts == [("key ci", Decimal("0.16"))]


async def test_a_caller_without_budgets_reserves_nothing() -> None:
    rig = Rig()

    assert await rig.guard.reserve(principal(key()), ask(), "c1") is None


class DownLedger(InMemorySpendLedger):
    async def spend_since(self, subject, since):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("down")


class DownCounters(InMemoryBudgetReservations):
    async def reserve(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise BudgetsUnavailable("down")


async def test_an_outage_of_the_database_or_the_counters_lets_the_call_through_unreserved() -> None:
    rig = Rig()
    rig.guard._ledger = DownLedger()  # type: ignore[attr-defined]
    assert await rig.guard.reserve(principal(key(max_budget=Decimal(1))), ask(), "c1") is None

    down = Rig(DownCounters())
    assert await down.guard.reserve(principal(key(max_budget=Decimal(1))), ask(), "c1") is None


async def test_a_budget_raised_on_the_callers_records_counts_from_the_next_call() -> None:
    rig = Rig()
    hold = await rig.guard.reserve(principal(key(max_budget=Decimal("0.34"))), ask(), "c1")
    assert hold is not None
    await rig.guard.settle(hold, Decimal("0.34"))
    with pytest.raises(BudgetExceededError):
        await rig.guard.reserve(principal(key(max_budget=Decimal("0.34"))), ask(), "c2")

    raised = principal(key(max_budget=Decimal("1.00")))

    hold = await rig.guard.reserve(raised, ask(), "c3")
    assert hold is not None and [line.limit for line in hold.lines] == [Decimal("1.00")]
