"""A spend journal held in this process: for tests and throwaway gateways, never across a restart."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence

from domain.spend import SpendRecord
from ports.spend_journal import JournalBatch, SpendJournal


class InMemorySpendJournal(SpendJournal):
    """Records live as long as this object, so a crash of the process loses those not yet written:
    durable only in the sense the port asks of a single process that keeps running. Otherwise the same
    semantics as the durable journals: oldest first, a batch taken is nobody else's until acknowledged
    or abandoned. No method awaits, so each is atomic within the event loop."""

    def __init__(self) -> None:
        self._records: dict[int, SpendRecord] = {}
        """Every record not acknowledged, by its sequence number (the order of appends)."""
        self._ready: list[int] = []
        """A heap of the sequence numbers that may be taken: never taken, or given back."""
        self._out: set[int] = set()
        """Numbers taken, neither acknowledged nor given back (a batch given back twice comes back once)."""
        self._numbers = itertools.count()

    def describe(self) -> str:
        return "memory"

    async def backlog(self) -> int:
        return len(self._records)

    async def append(self, records: Sequence[SpendRecord]) -> None:
        for record in records:
            number = next(self._numbers)
            self._records[number] = record
            heapq.heappush(self._ready, number)

    async def take(self, limit: int) -> JournalBatch:
        numbers = [heapq.heappop(self._ready) for _ in range(min(limit, len(self._ready)))]
        self._out.update(numbers)
        return JournalBatch(tuple(self._records[n] for n in numbers), receipt=tuple(numbers))

    async def acknowledge(self, batch: JournalBatch) -> None:
        for number in _numbers(batch):
            if number in self._out:
                self._out.discard(number)
                del self._records[number]

    async def abandon(self, batch: JournalBatch) -> None:
        for number in _numbers(batch):
            if number in self._out:
                self._out.discard(number)
                heapq.heappush(self._ready, number)

    async def close(self) -> None:
        """Nothing to release; the records stay with this object."""


def _numbers(batch: JournalBatch) -> tuple[int, ...]:
    receipt = batch.receipt
    return receipt if isinstance(receipt, tuple) else ()
