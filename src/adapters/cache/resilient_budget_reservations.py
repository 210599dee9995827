"""Budget reservations that survive their shared store going away: Redis while it answers, this process's own
counters while it does not. Requests never fail because the shared counters are unreachable."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import structlog

from adapters.cache.outage import Outage
from domain.budgets import BudgetLine, Standing
from ports.budget_reservations import BudgetReservations, BudgetsUnavailable, Reservation

_log = structlog.get_logger("switchyard.budgets")


class ResilientBudgetReservations(BudgetReservations):
    """The shared counters, or the local ones while the shared store cannot be reached (logged once per
    outage, and shown by `degraded`). Budgets then hold per process, counted from the ledger's spend when
    the local counters are seeded, not for the fleet; what is settled locally reaches the shared counters
    only through the ledger, when they are next seeded. A hold is settled where it was made.

    The local counters are cleared when the shared store answers again: they miss what the fleet spent in
    the meantime, so the next outage seeds them afresh."""

    def __init__(self, shared: BudgetReservations, local: BudgetReservations) -> None:
        self._shared = shared
        self._local = local
        self._outage = Outage(
            _log,
            "shared budget counters unreachable; counting in this process",
            "shared budget counters reachable again",
        )
        self._held_locally: set[str] = set()
        """Holds the local counters admitted and that are not settled yet."""

    @property
    def degraded(self) -> bool:
        return self._outage.degraded

    def describe(self) -> str:
        shared = self._shared.describe()
        return f"{self._local.describe()} ({shared} unreachable)" if self.degraded else shared

    async def reserve(
        self, lines: Sequence[BudgetLine], amount: Decimal, *, hold: str, ttl: float, now: float
    ) -> Reservation:
        if self._outage.use_shared(now):
            try:
                reservation = await self._shared.reserve(lines, amount, hold=hold, ttl=ttl, now=now)
            except BudgetsUnavailable as exc:
                self._outage.lost(now, exc)
            else:
                await self._recovered()
                return reservation
        reservation = await self._local.reserve(lines, amount, hold=hold, ttl=ttl, now=now)
        if reservation.admitted:
            self._held_locally.add(hold)
        return reservation

    async def seed(self, line: BudgetLine, spent: Decimal, *, now: float) -> None:
        if self._outage.use_shared(now):
            try:
                await self._shared.seed(line, spent, now=now)
            except BudgetsUnavailable as exc:
                self._outage.lost(now, exc)
            else:
                await self._recovered()
                return
        await self._local.seed(line, spent, now=now)

    async def settle(self, lines: Sequence[BudgetLine], cost: Decimal, *, hold: str, now: float) -> None:
        if hold in self._held_locally:
            self._held_locally.discard(hold)
            await self._local.settle(lines, cost, hold=hold, now=now)
            # The shared reserve that failed may have run with only its reply lost: then the hold is open
            # there and this settles it; otherwise the shared settle finds no hold and adds nothing.
            if not self._outage.use_shared(now):
                return
        try:
            await self._shared.settle(lines, cost, hold=hold, now=now)
        except BudgetsUnavailable as exc:
            self._outage.lost(now, exc)

    async def standings(self, lines: Sequence[BudgetLine], *, now: float) -> list[Standing | None]:
        if self._outage.use_shared(now):
            try:
                standings = await self._shared.standings(lines, now=now)
            except BudgetsUnavailable as exc:
                self._outage.lost(now, exc)
            else:
                await self._recovered()
                return standings
        return await self._local.standings(lines, now=now)

    async def clear(self) -> None:
        # Both: the local counters would otherwise serve stale spend in the next outage. An unreachable
        # shared store is reported: its counters outlive the reset.
        await self._local.clear()
        await self._shared.clear()

    async def _recovered(self) -> None:
        if self._outage.degraded:
            await self._local.clear()
        self._outage.recovered()
