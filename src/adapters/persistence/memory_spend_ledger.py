"""The spend ledger held in this process: the ledger of tests and of a gateway run without a database."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from adapters.persistence.spend_sums import (
    ALL_TIME,
    CALLER_FIELDS,
    EXACT,
    DailyKey,
    Total,
    daily,
    first_of_each,
    in_order,
    in_utc,
    plus,
    totals,
)
from domain.spend import ZERO, DailyQuery, DailySpend, SpendLogQuery, SpendRecord, parse_subject
from ports.spend_ledger import SpendLedger

_LOG_FILTERS = ("key_hash", "user_id", "team_id", "organization_id", "end_user")
_DAILY_FILTERS = ("key_hash", "team_id", "organization_id", "user_id", "end_user", "model_group", "provider")


class InMemorySpendLedger(SpendLedger):
    """One ledger for every writer of the process: shards exist to keep database writers off each other's
    rows, and nothing here contends. A write makes no await, so it is atomic in the event loop."""

    def __init__(self) -> None:
        self._logs: dict[str, SpendRecord] = {}
        self._totals: dict[str, Total] = {}
        self._daily: dict[DailyKey, DailySpend] = {}
        self._reset_at: datetime | None = None

    async def write(self, records: Sequence[SpendRecord]) -> int:
        new = [_stored(record) for id, record in first_of_each(records).items() if id not in self._logs]
        for subject, total in totals(new).items():
            self._totals[subject] = self._totals.get(subject, Total()) + total
        for key, sums in daily(new).items():
            self._daily[key] = plus(self._daily[key], sums) if key in self._daily else sums
        self._logs.update((record.request_id, record) for record in new)
        return len(new)

    async def logs(self, query: SpendLogQuery) -> list[SpendRecord]:
        found = self._matching(query)
        found.sort(key=lambda record: (record.started_at, record.request_id), reverse=True)
        return copy.deepcopy(found[query.offset : query.offset + query.limit])

    async def count(self, query: SpendLogQuery) -> int:
        return len(self._matching(query))

    def _matching(self, query: SpendLogQuery) -> list[SpendRecord]:
        start = None if query.start is None else in_utc(query.start)
        end = None if query.end is None else in_utc(query.end)
        return [
            record
            for record in self._logs.values()
            if all(
                (wanted := getattr(query, name)) is None or getattr(record.caller, name) == wanted
                for name in _LOG_FILTERS
            )
            and (query.request_id is None or record.request_id == query.request_id)
            and (query.model_group is None or record.model_group == query.model_group)
            and (query.status is None or record.status is query.status)
            and (start is None or record.started_at >= start)
            and (end is None or record.started_at < end)
        ]

    async def totals(self, subjects: Sequence[str]) -> Mapping[str, Decimal]:
        return {subject: self._totals[subject].spend for subject in subjects if subject in self._totals}

    async def spend_since(self, subject: str, since: datetime) -> Decimal:
        kind, id, model = parse_subject(subject)
        since = in_utc(since)
        if since <= ALL_TIME or (self._reset_at is not None and since < self._reset_at):
            return self._totals.get(subject, Total()).spend
        start = since if self._reset_at is None else max(since, self._reset_at)
        spent = ZERO
        for record in self._logs.values():
            if (
                getattr(record.caller, CALLER_FIELDS[kind]) == id
                and record.started_at >= start
                and (model is None or record.model_group == model)
            ):
                spent = EXACT.add(spent, record.cost or ZERO)
        return spent

    async def daily(self, query: DailyQuery) -> list[DailySpend]:
        return in_order(
            aggregate
            for aggregate in self._daily.values()
            if query.start <= aggregate.day <= query.end
            and all(
                (wanted := getattr(query, name)) is None or getattr(aggregate, name) == wanted
                for name in _DAILY_FILTERS
            )
        )

    async def reset(self, at: datetime) -> None:
        self._totals.clear()
        self._reset_at = in_utc(at)


def _stored(record: SpendRecord) -> SpendRecord:
    """A copy, as a database keeps one, in UTC, as a database returns it."""
    return copy.deepcopy(
        replace(record, started_at=in_utc(record.started_at), ended_at=in_utc(record.ended_at))
    )
