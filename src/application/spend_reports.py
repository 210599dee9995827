"""Spend reports over the ledger (the raw log, the global report, the daily activity the admin UI charts),
each narrowed to what the caller may read, and an admin's global reset of spend."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import field, replace
from datetime import UTC, date, datetime

from application.catalog import ModelCatalog
from application.management.service import reach_of
from application.pricing import Pricing
from application.spend_calculator import PromptTokens, SpendCalculator
from application.spend_rollups import (
    NO_KEY,
    DayActivity,
    GroupBy,
    K,
    ReportGroup,
    Totals,
    day_activities,
    report_groups,
    rollup,
    total,
)
from application.spend_scope import (
    SpendFilter,
    check_reset,
    day_range,
    key_hash_of,
    log_window,
    scoped,
    scoped_teams,
)
from domain.access import Principal
from domain.errors import BadRequestError, ServiceUnavailableError
from domain.frozen import frozen
from domain.router_policy import RouterPolicy
from domain.spend import CallStatus, DailyQuery, DailySpend, SpendLogQuery, SpendRecord
from ports.budget_reservations import BudgetReservations, BudgetsUnavailable
from ports.clock import Clock
from ports.spend_ledger import SpendLedger
from ports.token_counter import TokenCounter
from ports.unit_of_work import StoreUnavailable, UnitOfWork

LIST_LIMIT = 1000
"""/spend/logs answers a plain list (LiteLLM's shape): the newest this many records, never the whole log."""
MAX_LOG_PAGE = 100
MAX_ACTIVITY_PAGE = 1000


@asynccontextmanager
async def _reachable() -> AsyncIterator[None]:
    """An unreachable database is the caller's 503 to retry, not a failure of the gateway (500)."""
    try:
        yield
    except StoreUnavailable as exc:
        raise ServiceUnavailableError(
            "The spend store cannot be reached; try again shortly.", code="spend_store_unavailable"
        ) from exc


def _paging(page: int, size: int, most: int) -> tuple[int, int]:
    if page < 1:
        raise BadRequestError(f"page must be 1 or more, got {page}", param="page")
    if not 1 <= size <= most:
        raise BadRequestError(f"page_size must be between 1 and {most}, got {size}", param="page_size")
    return (page - 1) * size, size


async def _scope(uow: Callable[[], UnitOfWork], principal: Principal, asked: SpendFilter) -> SpendFilter:
    if principal.reads_everything:
        return asked
    async with uow() as work:
        reach = await reach_of(work, principal)
        team = await work.teams.get(asked.team_id) if asked.team_id else None
    return scoped(reach, asked, team)


@frozen
class LogPage:
    records: tuple[SpendRecord, ...]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size)


class SpendLogs:
    """The raw log, newest first. `api_key` is a key's secret or its stored token; `start` and `end` are
    days (counted whole) or moments (up to and including `end`)."""

    def __init__(self, *, ledger: SpendLedger, uow: Callable[[], UnitOfWork]) -> None:
        self._ledger = ledger
        self._uow = uow

    async def page(
        self,
        principal: Principal,
        *,
        api_key: str | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        request_id: str | None = None,
        start: date | None = None,
        end: date | None = None,
        model: str | None = None,
        status: CallStatus | None = None,
        page: int = 1,
        size: int = 50,
    ) -> LogPage:
        offset, limit = _paging(page, size, MAX_LOG_PAGE)
        query = await self._query(principal, api_key, user_id, team_id, request_id, start, end)
        query = replace(query, model_group=model, status=status)
        async with _reachable():
            found = await self._ledger.logs(replace(query, offset=offset, limit=limit))
            count = await self._ledger.count(query)
        return LogPage(tuple(found), count, page, size)

    async def recent(
        self,
        principal: Principal,
        *,
        api_key: str | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        request_id: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> list[SpendRecord]:
        query = await self._query(principal, api_key, user_id, team_id, request_id, start, end)
        async with _reachable():
            return await self._ledger.logs(replace(query, limit=LIST_LIMIT))

    async def _query(
        self,
        principal: Principal,
        api_key: str | None,
        user_id: str | None,
        team_id: str | None,
        request_id: str | None,
        start: date | None,
        end: date | None,
    ) -> SpendLogQuery:
        since, until = log_window(start, end)
        asked = SpendFilter(key_hash=key_hash_of(api_key), user_id=user_id, team_id=team_id)
        async with _reachable():
            who = await _scope(self._uow, principal, asked)
        return SpendLogQuery(
            key_hash=who.key_hash,
            user_id=who.user_id,
            team_id=who.team_id,
            end_user=who.end_user,
            request_id=request_id,
            start=since,
            end=until,
        )


@frozen
class Report:
    group_by: GroupBy
    start: date
    end: date
    groups: tuple[ReportGroup, ...]
    team_aliases: Mapping[str, str] = field(default_factory=dict)


class SpendReport:
    """/global/spend/report: spend over whole UTC days grouped by team, customer, key, model, provider or
    day, summed from the ledger's daily aggregates (never a scan of the log)."""

    def __init__(self, *, ledger: SpendLedger, uow: Callable[[], UnitOfWork]) -> None:
        self._ledger = ledger
        self._uow = uow

    async def report(
        self,
        principal: Principal,
        *,
        group_by: GroupBy,
        start: date | None,
        end: date | None,
        api_key: str | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        end_user: str | None = None,
    ) -> Report:
        first, last = day_range(start, end)
        asked = SpendFilter(key_hash_of(api_key), user_id, team_id, end_user)
        async with _reachable():
            who = await _scope(self._uow, principal, asked)
            found = await self._ledger.daily(_daily(first, last, who))
        groups = report_groups(found, group_by)
        aliases: Mapping[str, str] = {}
        if group_by is GroupBy.TEAM:
            aliases = await _team_aliases(self._uow, (g.name for g in groups if g.name))
        return Report(group_by, first, last, groups, aliases)

    async def overview(
        self, principal: Principal, *, start: date | None, end: date | None, team_id: str | None = None
    ) -> Overview:
        """The admin console's Spend page: one read of the daily aggregates, rolled up by day, model,
        team and key, with the keys' and teams' names."""
        first, last = day_range(start, end)
        async with _reachable():
            who = await _scope(self._uow, principal, SpendFilter(team_id=team_id))
            found = await self._ledger.daily(_daily(first, last, who))
        teams = _by_spend(rollup(found, lambda a: a.team_id))
        keys = _by_spend(rollup(found, lambda a: a.key_hash))
        return Overview(
            first,
            last,
            total(found),
            days=rollup(sorted(found, key=lambda a: a.day), lambda a: a.day),
            models=_by_spend(rollup(found, lambda a: a.model_group)),
            teams=teams,
            keys=keys,
            key_infos=await _key_infos(self._uow, {k for k in keys if k}),
            team_aliases=await _team_aliases(self._uow, (t for t in teams if t)),
        )


def _by_spend(found: dict[K, Totals]) -> dict[K, Totals]:
    """Highest spend first (then by name, for a stable order). Sorted twice, not on a negated spend:
    negating rounds to the default context's 28 digits."""
    by_name = sorted(found.items(), key=lambda item: str(item[0] or ""))
    return dict(sorted(by_name, key=lambda item: item[1].spend, reverse=True))


def _daily(first: date, last: date, who: SpendFilter, model: str | None = None) -> DailyQuery:
    return DailyQuery(
        start=first,
        end=last,
        key_hash=who.key_hash,
        user_id=who.user_id,
        team_id=who.team_id,
        end_user=who.end_user,
        model_group=model,
    )


async def _team_aliases(uow: Callable[[], UnitOfWork], team_ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(team_ids))
    if not wanted:
        return {}
    async with _reachable(), uow() as work:
        teams = await work.teams.get_many(wanted)
    return {t.team_id: t.team_alias for t in teams if t.team_alias}


@frozen
class KeyInfo:
    key_alias: str | None = None
    team_id: str | None = None
    user_id: str | None = None


@frozen
class Overview:
    """Spend over whole UTC days summed every way the console charts it: per day that had calls (in
    order), and per model, team and key (highest spend first; None: calls without a team or key), with
    the names of those keys and teams."""

    start: date
    end: date
    totals: Totals
    days: Mapping[date, Totals]
    models: Mapping[str, Totals]
    teams: Mapping[str | None, Totals]
    keys: Mapping[str | None, Totals]
    key_infos: Mapping[str, KeyInfo] = field(default_factory=dict)
    team_aliases: Mapping[str, str] = field(default_factory=dict)


@frozen
class Activity:
    """One page of days (newest first) with the totals of the whole range; `keys` describes the keys
    that appear on the page, `team_aliases` its teams."""

    days: tuple[DayActivity, ...]
    totals: Totals
    page: int
    pages: int
    keys: Mapping[str, KeyInfo] = field(default_factory=dict)
    team_aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def has_more(self) -> bool:
        return self.page < self.pages


class DailyActivity:
    """/user/daily/activity and /team/daily/activity: each day's spend, tokens and requests with their
    breakdowns by model, provider and key (and team), over whole UTC days, paged by day."""

    def __init__(self, *, ledger: SpendLedger, uow: Callable[[], UnitOfWork]) -> None:
        self._ledger = ledger
        self._uow = uow

    async def of_users(
        self,
        principal: Principal,
        *,
        start: date | None,
        end: date | None,
        user_id: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        page: int = 1,
        size: int = 50,
    ) -> Activity:
        first, last = day_range(start, end)
        offset, limit = _paging(page, size, MAX_ACTIVITY_PAGE)
        asked = SpendFilter(key_hash=key_hash_of(api_key), user_id=user_id)
        async with _reachable():
            who = await _scope(self._uow, principal, asked)
            found = await self._ledger.daily(_daily(first, last, who, model))
        return await self._activity(found, page, offset, limit, by_team=False)

    async def of_teams(
        self,
        principal: Principal,
        *,
        start: date | None,
        end: date | None,
        team_ids: Sequence[str] = (),
        api_key: str | None = None,
        model: str | None = None,
        page: int = 1,
        size: int = 50,
    ) -> Activity:
        first, last = day_range(start, end)
        offset, limit = _paging(page, size, MAX_ACTIVITY_PAGE)
        key_hash = key_hash_of(api_key)
        async with _reachable():
            teams = await self._scope_teams(principal, team_ids)
            found: list[DailySpend] = []
            for team_id in teams or (None,):
                who = SpendFilter(key_hash=key_hash, team_id=team_id)
                found += await self._ledger.daily(_daily(first, last, who, model))
        # Calls made outside any team are no team's activity.
        found = [a for a in found if a.team_id is not None]
        return await self._activity(found, page, offset, limit, by_team=True)

    async def _scope_teams(self, principal: Principal, asked: Sequence[str]) -> tuple[str, ...] | None:
        asked = list(dict.fromkeys(asked))
        if principal.reads_everything:
            return tuple(asked) or None
        async with self._uow() as work:
            reach = await reach_of(work, principal)
            teams = {t.team_id: t for t in await work.teams.get_many(asked)} if asked else {}
        return scoped_teams(reach, asked, teams)

    async def _activity(
        self, found: list[DailySpend], page: int, offset: int, limit: int, *, by_team: bool
    ) -> Activity:
        days = day_activities(found, by_team=by_team)
        shown = days[offset : offset + limit]
        keys = {key for day in shown for key in day.api_keys if key != NO_KEY}
        teams = {team for day in shown for team in day.entities if team}
        return Activity(
            days=tuple(shown),
            totals=total(found),
            page=page,
            pages=max(1, math.ceil(len(days) / limit)),
            keys=await _key_infos(self._uow, keys),
            team_aliases=await _team_aliases(self._uow, teams),
        )


async def _key_infos(uow: Callable[[], UnitOfWork], tokens: set[str]) -> dict[str, KeyInfo]:
    if not tokens:
        return {}
    async with _reachable(), uow() as work:
        keys = await work.keys.get_many(sorted(tokens))
    return {k.token: KeyInfo(k.key_alias, k.team_id, k.user_id) for k in keys}


class SpendReset:
    """/global/spend/reset (proxy_admin only): every running total back to zero, the log and the daily
    aggregates kept, and the budget counters forgotten so that they are seeded again from the ledger."""

    def __init__(self, *, ledger: SpendLedger, reservations: BudgetReservations | None, clock: Clock) -> None:
        self._ledger = ledger
        self._reservations = reservations
        self._clock = clock

    async def reset(self, principal: Principal) -> datetime:
        check_reset(principal)
        at = datetime.fromtimestamp(self._clock.now(), UTC)
        async with _reachable():
            await self._ledger.reset(at)
        if self._reservations is not None:
            try:
                await self._reservations.clear()
            except BudgetsUnavailable as exc:
                raise ServiceUnavailableError(
                    "Spend was reset, but the budget counters could not be cleared; try again shortly.",
                    code="budgets_unavailable",
                ) from exc
        return at


@frozen
class SpendDesk:
    """The spend routes' use cases, as one dependency (Litestar resolves several per request at a cost)."""

    logs: SpendLogs
    report: SpendReport
    activity: DailyActivity
    reset: SpendReset
    calculator: SpendCalculator
    tokens: PromptTokens

    @classmethod
    def build(
        cls,
        *,
        ledger: SpendLedger,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        reservations: BudgetReservations | None,
        catalog: ModelCatalog,
        pricing: Pricing,
        counter: TokenCounter,
        policy: RouterPolicy,
    ) -> SpendDesk:
        return cls(
            logs=SpendLogs(ledger=ledger, uow=uow),
            report=SpendReport(ledger=ledger, uow=uow),
            activity=DailyActivity(ledger=ledger, uow=uow),
            reset=SpendReset(ledger=ledger, reservations=reservations, clock=clock),
            calculator=SpendCalculator(catalog=catalog, pricing=pricing, counter=counter, policy=policy),
            tokens=PromptTokens(catalog=catalog, counter=counter, policy=policy),
        )
