"""Budget counters held in this process: the default when no Redis is configured."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from domain.budgets import BudgetLine, Standing, refusing_line
from domain.spend import EXACT
from ports.budget_reservations import BudgetReservations, Reservation

WINDOW_GRACE = 86_400.0
"""Seconds a window's counters outlive its end: late settles of calls that began in it still land."""
IDLE_TTL = 7 * 86_400.0
"""Seconds an all-time counter nobody wrote to is kept; then it is seeded again from the ledger."""
LAPSE_GRACE = 86_400.0
"""Seconds after a hold expired (stopped counting) during which its settle still adds the call's cost: a
call that ran longer than its `ttl` did spend it."""
SWEEP_EVERY = 60.0
"""Seconds between sweeps for dead counters and long-lapsed holds."""


class _Counter:
    """One budget window: spend settled, and the holds on it (hold -> (amount, expires_at)); a hold stops
    counting at expires_at and is forgotten LAPSE_GRACE later.

    `held` is the exact sum of every hold's amount, kept as holds come and go: while none can have
    expired (the usual case: calls settle in seconds, holds count for minutes), it is what the holds
    count, without a pass over the holds in flight on every reservation (32 of them per budget under 32
    concurrent calls: 10 us a call)."""

    __slots__ = ("end", "held", "holds", "oldest", "spent", "touched")

    def __init__(self, spent: Decimal, end: float | None, now: float) -> None:
        self.spent = spent
        self.end = end
        self.touched = now
        self.holds: dict[str, tuple[Decimal, float]] = {}
        self.held = Decimal(0)
        self.oldest = float("inf")
        """No hold expires before this (it may be earlier than the earliest hold left, never later)."""

    def hold(self, hold: str, amount: Decimal, expires: float) -> None:
        previous = self.holds.get(hold)
        if previous is not None:
            self.held = EXACT.subtract(self.held, previous[0])
        self.holds[hold] = (amount, expires)
        self.held = EXACT.add(self.held, amount)
        self.oldest = min(self.oldest, expires)

    def release(self, hold: str) -> bool:
        """Drops the hold; whether it was there."""
        found = self.holds.pop(hold, None)
        if found is None:
            return False
        self.held = EXACT.subtract(self.held, found[0])
        return True

    def alive(self, now: float) -> bool:
        if self.end is None:
            return now < self.touched + IDLE_TTL
        return now < self.end + WINDOW_GRACE

    def standing(self, now: float) -> Standing:
        if now < self.oldest:  # every hold still counts
            return Standing(self.spent, self.held)
        live = (amount for amount, expires in self.holds.values() if expires > now)
        return Standing(self.spent, sum(live, Decimal(0)))

    def prune(self, now: float) -> None:
        if now < self.oldest + LAPSE_GRACE:  # nothing to forget: no pass over the holds of every settle
            return
        for hold in [h for h, (_, expires) in self.holds.items() if now >= expires + LAPSE_GRACE]:
            self.release(hold)
        self.oldest = min((expires for _, expires in self.holds.values()), default=float("inf"))


class InMemoryBudgetReservations(BudgetReservations):
    """Plain dicts and exact Decimals; every method runs without an await, so each is atomic within the event
    loop and concurrent reservations see each other. Counters hold for this process only. A window's
    counters are dropped WINDOW_GRACE after it ended, an all-time one after IDLE_TTL without writes (both
    are seeded again when next needed), so memory stays bounded by the budgets in use."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, float], _Counter] = {}
        self._next_sweep = float("-inf")

    def describe(self) -> str:
        return "memory"

    @property
    def in_process(self) -> bool:
        return True

    async def reserve(
        self, lines: Sequence[BudgetLine], amount: Decimal, *, hold: str, ttl: float, now: float
    ) -> Reservation:
        self._sweep(now)
        known = []
        for line in lines:
            counter = self._counter(line, now)
            if counter is None:
                counters = [self._counter(line, now) for line in lines]
                unseeded = tuple(i for i, found in enumerate(counters) if found is None)
                return Reservation(admitted=False, unseeded=unseeded)
            known.append(counter)
        standings = [counter.standing(now) for counter in known]
        refused = refusing_line(lines, standings)
        if refused is not None:
            return Reservation(admitted=False, standings=tuple(standings), refused=refused)
        for counter in known:
            counter.hold(hold, amount, now + ttl)
            counter.touched = now
        return Reservation(admitted=True, standings=tuple(counter.standing(now) for counter in known))

    async def seed(self, line: BudgetLine, spent: Decimal, *, now: float) -> None:
        if self._counter(line, now) is None:
            self._counters[_name(line)] = _Counter(spent, line.window.end, now)

    async def settle(self, lines: Sequence[BudgetLine], cost: Decimal, *, hold: str, now: float) -> None:
        for line in lines:
            counter = self._counter(line, now)
            if counter is None:
                continue  # forgotten or cleared: the ledger has the cost, and seeds it again
            counter.prune(now)
            if counter.release(hold):
                counter.spent += cost
                counter.touched = now

    async def standings(self, lines: Sequence[BudgetLine], *, now: float) -> list[Standing | None]:
        counters = [self._counter(line, now) for line in lines]
        return [None if counter is None else counter.standing(now) for counter in counters]

    async def clear(self) -> None:
        self._counters.clear()

    def _counter(self, line: BudgetLine, now: float) -> _Counter | None:
        counter = self._counters.get(_name(line))
        if counter is not None and not counter.alive(now):
            del self._counters[_name(line)]
            return None
        return counter

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        for name in [name for name, counter in self._counters.items() if not counter.alive(now)]:
            del self._counters[name]
        for counter in self._counters.values():
            counter.prune(now)
        self._next_sweep = now + SWEEP_EVERY


def _name(line: BudgetLine) -> tuple[str, float]:
    return line.subject, line.window.start
