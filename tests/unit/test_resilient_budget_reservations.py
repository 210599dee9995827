"""Budget reservations that keep holding, per process, when the shared counters are unreachable."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from adapters.cache.memory_budget_reservations import InMemoryBudgetReservations
from adapters.cache.outage import RETRY_SHARED_AFTER
from adapters.cache.resilient_budget_reservations import ResilientBudgetReservations
from domain.budgets import BudgetLine, Standing
from ports.budget_reservations import BudgetsUnavailable, Reservation

NOW = 1_800_000_020.0
LATER = NOW + RETRY_SHARED_AFTER + 1
KEY = BudgetLine("key:a", "key", Decimal(10))


class FlakyBudgetReservations(InMemoryBudgetReservations):
    """In-memory counters that can be switched to behave like an unreachable store."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def describe(self) -> str:
        return "redis"

    def _check(self) -> None:
        if self.down:
            raise BudgetsUnavailable("connection refused")

    async def reserve(
        self, lines: Sequence[BudgetLine], amount: Decimal, *, hold: str, ttl: float, now: float
    ) -> Reservation:
        self._check()
        return await super().reserve(lines, amount, hold=hold, ttl=ttl, now=now)

    async def seed(self, line: BudgetLine, spent: Decimal, *, now: float) -> None:
        self._check()
        await super().seed(line, spent, now=now)

    async def settle(self, lines: Sequence[BudgetLine], cost: Decimal, *, hold: str, now: float) -> None:
        self._check()
        await super().settle(lines, cost, hold=hold, now=now)

    async def standings(self, lines: Sequence[BudgetLine], *, now: float) -> list[Standing | None]:
        self._check()
        return await super().standings(lines, now=now)


def _budgets() -> tuple[FlakyBudgetReservations, InMemoryBudgetReservations, ResilientBudgetReservations]:
    shared, local = FlakyBudgetReservations(), InMemoryBudgetReservations()
    return shared, local, ResilientBudgetReservations(shared, local)


async def _reserve(budgets: ResilientBudgetReservations, hold: str, now: float = NOW) -> Reservation:
    return await budgets.reserve([KEY], Decimal(1), hold=hold, ttl=600, now=now)


async def test_the_shared_counters_are_used_while_they_answer() -> None:
    shared, local, budgets = _budgets()
    await budgets.seed(KEY, Decimal(2), now=NOW)

    assert (await _reserve(budgets, "h")).admitted

    assert await shared.standings([KEY], now=NOW) == [Standing(Decimal(2), Decimal(1))]
    assert await local.standings([KEY], now=NOW) == [None]
    assert budgets.describe() == "redis" and not budgets.degraded


async def test_during_an_outage_the_local_counters_are_seeded_and_reserved() -> None:
    shared, local, budgets = _budgets()
    shared.down = True

    assert (await _reserve(budgets, "h")).unseeded == (0,)
    await budgets.seed(KEY, Decimal(9), now=NOW)
    assert (await _reserve(budgets, "h")).admitted
    assert not (await _reserve(budgets, "other")).admitted

    assert await budgets.standings([KEY], now=NOW) == [Standing(Decimal(9), Decimal(1))]
    assert await local.standings([KEY], now=NOW) == [Standing(Decimal(9), Decimal(1))]
    assert budgets.degraded and budgets.describe() == "memory (redis unreachable)"


async def test_a_hold_made_locally_is_settled_locally_even_once_the_store_is_back() -> None:
    shared, local, budgets = _budgets()
    await shared.seed(KEY, Decimal(0), now=NOW)
    shared.down = True
    await budgets.seed(KEY, Decimal(0), now=NOW)
    await _reserve(budgets, "h")
    shared.down = False

    await budgets.settle([KEY], Decimal("0.5"), hold="h", now=LATER)

    assert await local.standings([KEY], now=LATER) == [Standing(Decimal("0.5"), Decimal(0))]
    assert await shared.standings([KEY], now=LATER) == [Standing(Decimal(0), Decimal(0))]


async def test_the_local_counters_are_forgotten_once_the_store_answers_again() -> None:
    shared, local, budgets = _budgets()
    shared.down = True
    await budgets.seed(KEY, Decimal(3), now=NOW)
    shared.down = False

    assert (await _reserve(budgets, "h", LATER)).unseeded == (0,)

    assert not budgets.degraded
    assert await local.standings([KEY], now=LATER) == [None]


async def test_clear_forgets_both_counters() -> None:
    shared, local, budgets = _budgets()
    await shared.seed(KEY, Decimal(1), now=NOW)
    await local.seed(KEY, Decimal(1), now=NOW)

    await budgets.clear()

    assert await shared.standings([KEY], now=NOW) == await local.standings([KEY], now=NOW) == [None]
