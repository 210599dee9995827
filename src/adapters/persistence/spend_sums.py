"""What a batch of spend records adds to the running totals and the daily aggregates, summed per row in
exact decimals, and how a subject reads the log: shared by the ledger adapters so that they agree to the
last digit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from domain.spend import EXACT, ZERO, Caller, CallStatus, DailySpend, SpendRecord

ALL_TIME = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
"""A `since` at or before this asks for all time, which the totals answer without reading the log."""
CALLER_FIELDS = {
    "key": "key_hash",
    "user": "user_id",
    "team": "team_id",
    "organization": "organization_id",
    "end_user": "end_user",
}
"""The `Caller` field (and log column) that holds each subject kind's id."""

DailyKey = tuple[date, str | None, str | None, str | None, str | None, str | None, str, str | None]
"""(day, key_hash, team_id, organization_id, user_id, end_user, model_group, provider): one aggregate."""


@dataclass(frozen=True, slots=True)
class Total:
    """One subject's running total."""

    spend: Decimal = ZERO
    tokens: int = 0
    requests: int = 0

    def __add__(self, other: Total) -> Total:
        return Total(
            EXACT.add(self.spend, other.spend), self.tokens + other.tokens, self.requests + other.requests
        )


def in_utc(moment: datetime) -> datetime:
    """Aware UTC, a naive datetime being taken to be UTC already (as the database column does)."""
    if moment.tzinfo is UTC:  # as records are made: the common case, taken without a conversion
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_day(record: SpendRecord) -> date:
    return in_utc(record.started_at).date()


def total_of(record: SpendRecord) -> Total:
    return Total(record.cost or ZERO, record.usage.total_tokens, 1)


def totals(records: Iterable[SpendRecord]) -> dict[str, Total]:
    """What the records add to each subject they name."""
    # Summed per caller and model first (the subjects follow from them): a batch names a few of each,
    # and a record adds to up to ten subjects.
    shares: dict[tuple[Caller, str], tuple[SpendRecord, Total]] = {}
    for record in records:
        key = (record.caller, record.model_group)
        found = shares.get(key)
        shares[key] = (record, total_of(record) if found is None else found[1] + total_of(record))
    summed: dict[str, Total] = {}
    for record, share in shares.values():
        for subject in record.subjects():
            summed[subject] = summed.get(subject, Total()) + share
    return summed


def daily_key(spend: DailySpend) -> DailyKey:
    return (
        spend.day,
        spend.key_hash,
        spend.team_id,
        spend.organization_id,
        spend.user_id,
        spend.end_user,
        spend.model_group,
        spend.provider,
    )


def plus(a: DailySpend, b: DailySpend) -> DailySpend:
    """`a` with `b`'s sums added (the dimensions are `a`'s)."""
    return replace(
        a,
        spend=EXACT.add(a.spend, b.spend),
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
        cached_tokens=a.cached_tokens + b.cached_tokens,
        cache_creation_tokens=a.cache_creation_tokens + b.cache_creation_tokens,
        reasoning_tokens=a.reasoning_tokens + b.reasoning_tokens,
        requests=a.requests + b.requests,
        successes=a.successes + b.successes,
        failures=a.failures + b.failures,
    )


def merged(aggregates: Iterable[DailySpend]) -> dict[DailyKey, DailySpend]:
    """The aggregates summed per key (shards, or a batch's records)."""
    found: dict[DailyKey, DailySpend] = {}
    for aggregate in aggregates:
        key = daily_key(aggregate)
        found[key] = plus(found[key], aggregate) if key in found else aggregate
    return found


def daily(records: Iterable[SpendRecord]) -> dict[DailyKey, DailySpend]:
    """What the records add to each day's aggregate."""
    grouped: dict[DailyKey, list[SpendRecord]] = {}
    for record in records:
        caller = record.caller
        key = (
            utc_day(record),
            caller.key_hash,
            caller.team_id,
            caller.organization_id,
            caller.user_id,
            caller.end_user,
            record.model_group,
            record.provider,
        )
        grouped.setdefault(key, []).append(record)
    return {key: _summed(key, group) for key, group in grouped.items()}


def _summed(key: DailyKey, records: list[SpendRecord]) -> DailySpend:
    """One day's aggregate of `records` (all of one key), summed in one pass."""
    successes = sum(record.status is CallStatus.SUCCESS for record in records)
    usages = [record.usage for record in records]
    spend = ZERO
    for record in records:
        if record.cost is not None:
            spend = EXACT.add(spend, record.cost)
    return DailySpend(
        *key,
        spend=spend,
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        cached_tokens=sum(u.cached_tokens for u in usages),
        cache_creation_tokens=sum(u.cache_creation_tokens for u in usages),
        reasoning_tokens=sum(u.reasoning_tokens for u in usages),
        requests=len(records),
        successes=successes,
        failures=len(records) - successes,
    )


def in_order(aggregates: Iterable[DailySpend]) -> list[DailySpend]:
    """By day, then the other dimensions, an absent one first (code point order, as the port says)."""
    return sorted(aggregates, key=lambda d: tuple("" if part is None else part for part in daily_key(d)))


def first_of_each(records: Sequence[SpendRecord]) -> dict[str, SpendRecord]:
    """The batch without repeated request ids (the first of each wins, as a database insert would)."""
    found: dict[str, SpendRecord] = {}
    for record in records:
        found.setdefault(record.request_id, record)
    return found
