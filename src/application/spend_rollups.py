"""Spend reports rolled up from the ledger's daily aggregates, as pure functions: sums per team, key,
model, provider or day, and each day's activity with its breakdowns. Sums are exact decimals."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from domain.errors import BadRequestError
from domain.frozen import frozen
from domain.spend import EXACT, ZERO, DailySpend

NO_KEY = ""
"""How a breakdown names calls made without a virtual key (the master key, a JWT)."""
NO_PROVIDER = "unknown"

K = TypeVar("K", bound=Hashable)


@frozen
class Totals:
    spend: Decimal = ZERO
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    requests: int = 0
    successes: int = 0
    failures: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            EXACT.add(self.spend, other.spend),
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_creation_tokens + other.cache_creation_tokens,
            self.requests + other.requests,
            self.successes + other.successes,
            self.failures + other.failures,
        )


NOTHING = Totals()


def totals_of(aggregate: DailySpend) -> Totals:
    return Totals(
        aggregate.spend,
        aggregate.prompt_tokens,
        aggregate.completion_tokens,
        aggregate.cached_tokens,
        aggregate.cache_creation_tokens,
        aggregate.requests,
        aggregate.successes,
        aggregate.failures,
    )


def total(aggregates: Iterable[DailySpend]) -> Totals:
    summed = NOTHING
    for aggregate in aggregates:
        summed += totals_of(aggregate)
    return summed


def rollup(aggregates: Iterable[DailySpend], by: Callable[[DailySpend], K]) -> dict[K, Totals]:
    """Totals per `by(aggregate)`, in order of first appearance."""
    found: dict[K, Totals] = {}
    for aggregate in aggregates:
        name = by(aggregate)
        found[name] = found.get(name, NOTHING) + totals_of(aggregate)
    return found


def grouped(aggregates: Iterable[DailySpend], by: Callable[[DailySpend], K]) -> dict[K, list[DailySpend]]:
    found: dict[K, list[DailySpend]] = {}
    for aggregate in aggregates:
        found.setdefault(by(aggregate), []).append(aggregate)
    return found


# The global spend report --------------------------------------------------------------------------


class GroupBy(StrEnum):
    TEAM = "team"
    CUSTOMER = "customer"
    API_KEY = "api_key"
    MODEL = "model"
    PROVIDER = "provider"
    DAY = "day"


def group_by_named(text: str) -> GroupBy:
    try:
        return GroupBy(text)
    except ValueError:
        names = ", ".join(g.value for g in GroupBy)
        raise BadRequestError(f"group_by must be one of {names}, got {text!r}", param="group_by") from None


_BY_DAY = (GroupBy.TEAM, GroupBy.CUSTOMER, GroupBy.DAY)
_NAME: dict[GroupBy, Callable[[DailySpend], str | None]] = {
    GroupBy.TEAM: lambda a: a.team_id,
    GroupBy.CUSTOMER: lambda a: a.end_user,
    GroupBy.API_KEY: lambda a: a.key_hash,
    GroupBy.MODEL: lambda a: a.model_group,
    GroupBy.PROVIDER: lambda a: a.provider,
    GroupBy.DAY: lambda a: None,
}


@frozen
class ReportPart:
    """One (model, key) pair's share of a group, as LiteLLM's reports itemise a group."""

    model: str
    key_hash: str | None
    totals: Totals


@frozen
class ReportGroup:
    """One group: a day (team, customer and day reports are per day) and/or a name (the team, customer,
    key, model or provider; None for calls without one)."""

    day: date | None
    name: str | None
    totals: Totals
    parts: tuple[ReportPart, ...]


def report_groups(aggregates: Iterable[DailySpend], group_by: GroupBy) -> tuple[ReportGroup, ...]:
    """Team, customer and day reports go day by day, each day's groups by spend (highest first); key,
    model and provider reports are over the whole range, by spend. Parts by spend too."""
    name_of = _NAME[group_by]
    per_day = group_by in _BY_DAY

    def key(a: DailySpend) -> tuple[date | None, str | None]:
        return (a.day if per_day else None, name_of(a))

    groups = [
        ReportGroup(day, name, total(members), _parts(members))
        for (day, name), members in grouped(aggregates, key).items()
    ]
    groups.sort(key=lambda g: (g.name or "", g.day or date.min))
    groups.sort(key=lambda g: g.totals.spend, reverse=True)
    if per_day:
        groups.sort(key=lambda g: g.day or date.min)
    return tuple(groups)


def _parts(members: list[DailySpend]) -> tuple[ReportPart, ...]:
    parts = [
        ReportPart(model, key_hash, totals)
        for (model, key_hash), totals in rollup(members, lambda a: (a.model_group, a.key_hash)).items()
    ]
    parts.sort(key=lambda p: (p.model, p.key_hash or ""))
    parts.sort(key=lambda p: p.totals.spend, reverse=True)
    return tuple(parts)


# Daily activity (the admin UI's usage charts) -------------------------------------------------------


@frozen
class DayActivity:
    """One day's totals with their breakdowns by model group, provider, key and (for team reports)
    team."""

    day: date
    totals: Totals
    models: dict[str, Totals]
    providers: dict[str, Totals]
    api_keys: dict[str, Totals]
    entities: dict[str, Totals]


def day_activities(aggregates: Iterable[DailySpend], *, by_team: bool) -> list[DayActivity]:
    """Each day that had calls, newest first."""
    days = []
    for day, members in grouped(aggregates, lambda a: a.day).items():
        days.append(
            DayActivity(
                day=day,
                totals=total(members),
                models=rollup(members, lambda a: a.model_group),
                providers=rollup(members, lambda a: a.provider or NO_PROVIDER),
                api_keys=rollup(members, lambda a: a.key_hash or NO_KEY),
                entities=rollup(members, lambda a: a.team_id or "") if by_team else {},
            )
        )
    days.sort(key=lambda d: d.day, reverse=True)
    return days
