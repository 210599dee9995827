"""The spend ledger's two halves: records handed to a durable journal on the request path, and a writer
that moves them from the journal into the database in batches, off it."""

from __future__ import annotations

from collections.abc import Sequence

from domain.frozen import frozen
from domain.spend import SpendRecord
from ports.spend_journal import JournalUnavailable, SpendJournal
from ports.spend_ledger import SpendLedger


class SpendRecorder:
    """Appends each record to the journal (durable when `record` returns). When the journal's store is
    unreachable (Redis down), the record goes to `fallback` (a local file), which the writer drains too:
    an outage never fails a call nor loses its record."""

    def __init__(self, *, journal: SpendJournal, fallback: SpendJournal | None = None) -> None:
        self._journal = journal
        self._fallback = fallback

    @property
    def journals(self) -> tuple[SpendJournal, ...]:
        return (self._journal,) if self._fallback is None else (self._journal, self._fallback)

    async def record(self, record: SpendRecord) -> None:
        try:
            await self._journal.append((record,))
        except JournalUnavailable:
            if self._fallback is None:
                raise
            await self._fallback.append((record,))


@frozen
class Drained:
    """What one pass of the writer did."""

    taken: int = 0
    written: int = 0
    """Records new to the ledger (the rest had been written before: a replay after a crash)."""


BATCH_SIZE = 200
"""Records per write. A write's cost is mostly per batch, not per record: on SQLite each statement is a
handoff between the event loop's thread and the driver's, and with the loop at full load each handoff
waits for the interpreter's lock (milliseconds). At 50 a batch the writer fell behind a single worker at
1,500 chat calls/s by some 600 records a second (the backlog grew without end, and the records past the
journal's memory were read back from its file); at 200 it keeps up, at 9% less CPU a call all told.
Records just appended are taken from memory, so a batch holds the loop little; a backlog read back from
the file (after an outage) holds it about 10 us a record, 2 ms a batch."""


class SpendWriter:
    """Drains journals into the ledger: each batch is written (idempotent by request id) and then
    acknowledged, so a crash between the two only writes it again, harmlessly. While the database is
    unreachable, batches go back to the journal and `drain` raises StoreUnavailable."""

    def __init__(
        self, *, journals: Sequence[SpendJournal], ledger: SpendLedger, batch_size: int = BATCH_SIZE
    ) -> None:
        self._journals = tuple(journals)
        self._ledger = ledger
        self._batch_size = batch_size

    async def drain(self) -> Drained:
        """One batch from each journal; call again while `taken` is the batch size."""
        taken = written = 0
        for journal in self._journals:
            try:
                batch = await journal.take(self._batch_size)
            except JournalUnavailable:
                continue
            if not batch.records:
                continue
            try:
                written += await self._ledger.write(batch.records)
            except BaseException:
                await journal.abandon(batch)
                raise
            await journal.acknowledge(batch)
            taken += len(batch.records)
        return Drained(taken, written)

    async def drain_all(self) -> Drained:
        """Until the journals are empty (at shutdown, and at start for what a crash left)."""
        taken = written = 0
        while True:
            done = await self.drain()
            taken += done.taken
            written += done.written
            if done.taken == 0:
                return Drained(taken, written)

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def shared(self) -> bool:
        """The records wait in a journal the fleet shares: every instance reads the same backlog."""
        return any(journal.shared for journal in self._journals)

    async def backlog(self) -> int:
        """Records waiting in the journals for the ledger, as far as they tell (a journal that cannot be
        reached, or cannot tell, counts none)."""
        total = 0
        for journal in self._journals:
            try:
                total += await journal.backlog() or 0
            except JournalUnavailable:
                continue
        return total
