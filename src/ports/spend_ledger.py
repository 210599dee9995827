"""The port for the spend ledger: every call's record, the running totals and the daily aggregates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from domain.spend import DailyQuery, DailySpend, SpendLogQuery, SpendRecord


class SpendLedger(ABC):
    """Spend records as the database keeps them.

    Contract:
    - `write` is idempotent by `request_id`: a record already written is skipped, whole batch or not
      (and within a batch, a repeated id counts once); it returns how many records were new. Each new
      record adds, in the same transaction, its cost and tokens to the running total of every subject it
      names (`SpendRecord.subjects()`) and to its day's aggregate (`DailySpend`, by the record's
      `started_at` in UTC); a record without a cost (no known price) adds no spend but one request. A
      failed write changes nothing.
    - Writes never UPDATE one row per request: totals and aggregates are added to once per batch, in a
      fixed order (no deadlocks between writers), in rows of this writer's own (`shard`), so writers on
      several instances never contend for a row; readers sum the shards.
    - Money is exact Decimal both ways; a record comes back from `logs` equal to what was written
      (`messages` and `response` included when they were stored).
    - `totals` answers for the subjects asked (absent: no record naming it written since the last reset);
      `spend_since` is one subject's spend of records started at or after `since` (per model with a
      `...:model:<name>` subject). A `since` at or before 1970-01-01T00:00:01Z means all time, and one
      before the last reset means since the reset: both are the subject's total.
    - `reset` (an admin's /global/spend/reset) sets every total to zero and makes `spend_since` count
      only records started after it; the log and the daily aggregates are kept.
    - An unreachable database raises `ports.unit_of_work.StoreUnavailable`.
    """

    @abstractmethod
    async def write(self, records: Sequence[SpendRecord]) -> int: ...

    @abstractmethod
    async def logs(self, query: SpendLogQuery) -> list[SpendRecord]:
        """Records matching the query, newest first (by `started_at`, then `request_id`), paged."""

    @abstractmethod
    async def count(self, query: SpendLogQuery) -> int:
        """How many records `logs` would return without paging."""

    @abstractmethod
    async def totals(self, subjects: Sequence[str]) -> Mapping[str, Decimal]: ...

    @abstractmethod
    async def spend_since(self, subject: str, since: datetime) -> Decimal: ...

    @abstractmethod
    async def daily(self, query: DailyQuery) -> list[DailySpend]:
        """One aggregate per (day, key, team, organization, user, end user, model group, provider) in the
        query's days and filters, shards summed; ordered by day, then the other fields."""

    @abstractmethod
    async def reset(self, at: datetime) -> None: ...
