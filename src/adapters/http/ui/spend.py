"""The Spend page (/ui/spend): spend by day, model, team and key over a date range, with its totals and
a CSV export of the same figures, from the daily aggregates behind /global/spend/report (read through
the same use case, so the visitor sees what the API would show them: admins everything, others their own
or their teams'). Charts are SVG drawn here, no script: the day chart carries a title per bar and a
table beside it; the other charts are tables whose rows carry their bar."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from adapters.http.controllers.spend import query_date
from adapters.http.ui.pages import PREFIX, Visit, dollars, filtered_page, query_values
from application.spend_reports import Overview, SpendDesk
from application.spend_rollups import NOTHING, Totals
from domain.errors import BadRequestError

DEFAULT_DAYS = 30
MAX_DAYS = 366
"""A year and a day: the day chart draws one bar per day of the range."""
_FIELDS = ("start_date", "end_date", "team_id")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclasses.dataclass(frozen=True, slots=True)
class Bar:
    label: str
    totals: Totals
    share: float
    """Of the chart's largest spend, 0 to 100 (the bar's length)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Chart:
    slug: str
    title: str
    dimension: str
    bars: tuple[Bar, ...]

    @property
    def peak(self) -> Bar | None:
        return max(self.bars, key=lambda bar: bar.totals.spend, default=None)


def _chart(slug: str, title: str, dimension: str, rows: Iterator[tuple[str, Totals]]) -> Chart:
    found = list(rows)
    top = max((totals.spend for _, totals in found), default=Decimal(0))
    bars = tuple(
        Bar(label, totals, float(totals.spend / top * 100) if top else 0.0) for label, totals in found
    )
    return Chart(slug, title, dimension, bars)


def _days(overview: Overview) -> Iterator[tuple[str, Totals]]:
    """Every day of the range, those without calls at zero."""
    day = overview.start
    while day <= overview.end:
        yield day.isoformat(), overview.days.get(day, NOTHING)
        day += timedelta(days=1)


def charts(overview: Overview) -> tuple[Chart, ...]:
    def key_name(token: str | None) -> str:
        info = overview.key_infos.get(token or "")
        if token is None:
            return "No virtual key (master key)"
        return (info.key_alias if info else None) or f"key {token[:12]}…"

    def team_name(team_id: str | None) -> str:
        return "No team" if team_id is None else overview.team_aliases.get(team_id, team_id)

    return (
        _chart("day", "Spend by day", "Day", _days(overview)),
        _chart("model", "Spend by model", "Model", iter(overview.models.items())),
        _chart("team", "Spend by team", "Team", ((team_name(t), s) for t, s in overview.teams.items())),
        _chart("key", "Spend by key", "Key", ((key_name(k), s) for k, s in overview.keys.items())),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Range:
    start: date
    end: date
    team_id: str | None

    @property
    def query(self) -> str:
        asked = {"start_date": self.start.isoformat(), "end_date": self.end.isoformat()}
        return urlencode(asked | ({"team_id": self.team_id} if self.team_id else {}))


def _day(request: Request, name: str) -> date | None:
    found = query_date(request, name)
    return found.date() if isinstance(found, datetime) else found


def _range(request: Request, today: date) -> Range:
    """The days asked for (the last DEFAULT_DAYS by default), at most MAX_DAYS of them."""
    end = _day(request, "end_date") or today
    start = _day(request, "start_date") or end - timedelta(days=DEFAULT_DAYS - 1)
    if (end - start).days >= MAX_DAYS:
        raise BadRequestError(f"Show at most {MAX_DAYS} days at a time.", param="start_date")
    return Range(start, end, request.query_params.get("team_id", "").strip() or None)


async def _overview(request: Request, visit: Visit, spend: SpendDesk) -> tuple[Range, Overview]:
    asked = _range(request, datetime.now(UTC).date())
    found = await spend.report.overview(
        visit.principal, start=asked.start, end=asked.end, team_id=asked.team_id
    )
    return asked, found


def _cell(text: str) -> str:
    """A name as a spreadsheet reads it: never as a formula (a key alias is anyone's text)."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


_CSV_HEADER = ("dimension", "name", "spend_usd", "requests", "successes", "failures")
_CSV_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _csv_row(dimension: str, name: str, totals: Totals) -> tuple[object, ...]:
    counts = (totals.requests, totals.successes, totals.failures)
    return (dimension, _cell(name), f"{totals.spend:f}", *counts, *(getattr(totals, n) for n in _CSV_TOKENS))


def spend_csv(shown: tuple[Chart, ...], totals: Totals) -> str:
    """The page's figures, exact: the totals, then each chart's rows (dimension: day, model, team, key)."""
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\n")
    rows.writerow((*_CSV_HEADER, *_CSV_TOKENS))
    rows.writerow(_csv_row("total", "", totals))
    rows.writerows(_csv_row(chart.slug, bar.label, bar.totals) for chart in shown for bar in chart.bars)
    return out.getvalue()


class SpendPage(Controller):
    path = PREFIX

    @get("/spend")
    async def index(
        self, request: Request, visit: NamedDependency[Visit], spend: NamedDependency[SpendDesk]
    ) -> Response:
        async def load() -> dict[str, Any]:
            shown, found = await _overview(request, visit, spend)
            # The inputs show the range shown, the default one included.
            values.update(start_date=shown.start.isoformat(), end_date=shown.end.isoformat())
            return {"range": shown, "totals": found.totals, "charts": charts(found), "dollars": dollars}

        values = query_values(request, _FIELDS)
        return await filtered_page(request, visit, "spend.html", values, load)

    @get("/spend.csv")
    async def export(
        self, request: Request, visit: NamedDependency[Visit], spend: NamedDependency[SpendDesk]
    ) -> Response:
        shown, found = await _overview(request, visit, spend)
        name = f"switchyard-spend-{shown.start.isoformat()}-{shown.end.isoformat()}.csv"
        return Response(
            spend_csv(charts(found), found.totals),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
