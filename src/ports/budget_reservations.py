"""The port that counts spend against budgets on the request path, with reservations for calls in flight."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from decimal import Decimal

from domain.budgets import BudgetLine, Standing
from domain.frozen import frozen


@frozen
class Reservation:
    """The answer to `reserve`. `admitted`: the amount is now reserved against every line, and `standings`
    are the lines' counters with it counted. Otherwise either `unseeded` names lines whose window spend is
    not known yet (nothing was reserved, `standings` empty: seed them and ask again), or `refused` is the
    index of the first line without room, with every line's standing as it was."""

    admitted: bool
    standings: tuple[Standing, ...] = ()
    refused: int | None = None
    unseeded: tuple[int, ...] = ()


class BudgetReservations(ABC):
    """Spend per budget window (`BudgetLine.subject` and `BudgetLine.window.start` name a counter) and the
    reservations open against it.

    Contract:
    - `reserve` is atomic across every process sharing the counters (one round trip): when every line's
      window spend is known and every line has room (`domain.budgets.refusing_line`: open reservations
      counted), `amount` is reserved under `hold` against all of them; otherwise nothing changes.
      Concurrent reservations see each other: N callers racing for the last room admit only while
      room remains.
    - `seed` sets a window's spend when it is not known yet (from the ledger); a known one is kept.
    - `settle` ends hold `hold`: drops its reservation from every line and adds `cost` to the spend of
      each line's window (the windows of the lines given, those of the reservation). Called once per
      admitted call however it ended (cost 0 for a call that cost nothing). It adds only where the hold is
      open, so a second settle of the same hold adds nothing, and it never creates a counter (a window
      forgotten meanwhile is seeded again from the ledger, which has the cost).
    - A reservation not settled within `ttl` seconds (its process died) stops counting by itself. Its late
      settle still adds the cost (the call did spend it) for a grace period the adapter states.
    - Counters of a window outlive it only as long as the adapter states; an expired one is seeded again.
    - `standings` reads lines' counters without changing them (None for a window not known).
    - `clear` forgets every counter (after an admin reset the ledger holds the truth again).
    - An unreachable backing store raises `BudgetsUnavailable`; nothing of its library escapes.
    """

    def describe(self) -> str:
        return type(self).__name__

    @property
    def in_process(self) -> bool:
        """Whether the counters live in this process (see `RateLimiter.in_process`)."""
        return False

    @abstractmethod
    async def reserve(
        self, lines: Sequence[BudgetLine], amount: Decimal, *, hold: str, ttl: float, now: float
    ) -> Reservation: ...

    @abstractmethod
    async def seed(self, line: BudgetLine, spent: Decimal, *, now: float) -> None: ...

    @abstractmethod
    async def settle(self, lines: Sequence[BudgetLine], cost: Decimal, *, hold: str, now: float) -> None: ...

    @abstractmethod
    async def standings(self, lines: Sequence[BudgetLine], *, now: float) -> list[Standing | None]: ...

    @abstractmethod
    async def clear(self) -> None: ...


class BudgetsUnavailable(Exception):
    """The shared budget counters cannot be reached."""
