"""The port that holds spend records durably between a call's end and the database."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import field

from domain.frozen import frozen
from domain.spend import SpendRecord


@frozen
class JournalBatch:
    """Records taken from the journal, to be acknowledged once written. `receipt` is the adapter's own
    note of where they came from; callers pass it back untouched."""

    records: tuple[SpendRecord, ...] = ()
    receipt: object = field(default=None, compare=False)


class SpendJournal(ABC):
    """An append-only queue of spend records that outlives the process.

    Contract:
    - `append` returns once the records are durable: a `kill -9` of this process right after loses
      none of them. It is one local write or one round trip, and never waits on the database.
    - `take` returns up to `limit` records not yet acknowledged, oldest first (exactly so for the records
      of one appending process; across processes, as near as the store can tell): this process's own and
      those a dead process left behind (the next start, or a peer sharing the journal, picks them up).
      Records taken are in no other batch, of this journal or a live peer's, until acknowledged or
      abandoned: a second `take` returns the next ones.
      A record taken and not acknowledged is taken again later (by this process once `take` is called
      again after `abandon`, or after a restart); so a record may be written more than once, and the
      ledger's writes are idempotent by request id.
    - A stored record that cannot be read back (corrupt, or torn by a kill in mid-write, which only an
      `append` that never returned can leave) is skipped and dropped, never raised.
    - `acknowledge` removes the batch's records for good. A receipt this journal did not issue, or a
      batch already acknowledged or abandoned, changes nothing.
    - An unreachable backing store raises `JournalUnavailable`; nothing of the store's library escapes.
    - `backlog` counts the records appended and not yet acknowledged that this journal holds, without
      reading them: for a journal of this process's own, its records (a dead process's records once
      it has adopted them); for one `shared` by the fleet, the whole fleet's. None when it cannot tell.
    """

    shared = False
    """One journal for every instance: each sees the same backlog."""

    def describe(self) -> str:
        return type(self).__name__

    async def backlog(self) -> int | None:
        return None

    @abstractmethod
    async def append(self, records: Sequence[SpendRecord]) -> None: ...

    @abstractmethod
    async def take(self, limit: int) -> JournalBatch: ...

    @abstractmethod
    async def acknowledge(self, batch: JournalBatch) -> None: ...

    @abstractmethod
    async def abandon(self, batch: JournalBatch) -> None:
        """Gives a batch back unwritten (the database was down): its records are taken again."""

    @abstractmethod
    async def close(self) -> None:
        """Releases files and connections; records appended stay durable."""


class JournalUnavailable(Exception):
    """The journal's backing store cannot be reached."""
