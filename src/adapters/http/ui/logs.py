"""The Logs page (/ui/logs): the ledger's records, newest first, filtered by key, team, model, status and
time and paged, as /spend/logs/v2 reads them (the same use case, so a visitor sees only the calls the API
would show them); and one call in detail (/ui/logs/{call_id}): its timings, tokens, cost, retries,
fallbacks, cache hit and error, with its prompt and reply where the ledger stored them
(`store_prompts_in_spend_logs`)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from adapters.http.controllers.management.requests import query, query_int
from adapters.http.controllers.spend import query_date
from adapters.http.ui.pages import PREFIX, Visit, dollars, filtered_page, page_links, query_values, render
from application.spend_reports import LogPage, SpendDesk
from domain.errors import BadRequestError
from domain.spend import CallStatus, SpendRecord

PAGE_SIZE = 50
_FIELDS = ("api_key", "team_id", "model", "status", "start_date", "end_date")


def _milliseconds(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclasses.dataclass(frozen=True, slots=True)
class LogRow:
    """One call as the list and the detail view show it."""

    record: SpendRecord

    @property
    def started(self) -> str:
        return _moment(self.record.started_at)

    @property
    def ended(self) -> str:
        return _moment(self.record.ended_at)

    @property
    def key(self) -> str:
        caller = self.record.caller
        hashed = None if caller.key_hash is None else f"{caller.key_hash[:12]}…"
        return caller.key_alias or caller.key_name or hashed or "—"

    @property
    def seconds(self) -> float:
        return (self.record.ended_at - self.record.started_at).total_seconds()

    @property
    def duration(self) -> str:
        return _milliseconds(self.seconds)

    @property
    def upstream(self) -> str:
        return _milliseconds(self.record.upstream_seconds)

    @property
    def overhead(self) -> str:
        """The gateway's own time: the call's less the upstreams'."""
        waited = self.record.upstream_seconds
        return _milliseconds(None if waited is None else max(0.0, self.seconds - waited))

    @property
    def first_token(self) -> str:
        return _milliseconds(self.record.time_to_first_token)

    @property
    def error(self) -> str:
        if self.record.status is CallStatus.SUCCESS:
            return ""
        code = f" ({self.record.status_code})" if self.record.status_code else ""
        return f"{self.record.error_type or 'error'}{code}"

    @property
    def prompt(self) -> str | None:
        return _pretty(self.record.messages)

    @property
    def reply(self) -> str | None:
        return _pretty(self.record.response)


def _pretty(stored: Any) -> str | None:
    return None if stored is None else json.dumps(stored, indent=2, ensure_ascii=False, default=str)


def _status(request: Request) -> CallStatus | None:
    asked = query(request, "status")
    try:
        return None if asked is None else CallStatus(asked)
    except ValueError:
        raise BadRequestError(f"status must be success or failure, got {asked!r}", param="status") from None


class LogsPage(Controller):
    path = f"{PREFIX}/logs"

    @get("/")
    async def index(
        self, request: Request, visit: NamedDependency[Visit], spend: NamedDependency[SpendDesk]
    ) -> Response:
        values = query_values(request, _FIELDS)

        async def load() -> dict[str, Any]:
            found: LogPage = await spend.logs.page(
                visit.principal,
                api_key=query(request, "api_key"),
                team_id=query(request, "team_id"),
                model=query(request, "model"),
                status=_status(request),
                start=query_date(request, "start_date"),
                end=query_date(request, "end_date"),
                page=query_int(request, "page", 1),
                size=PAGE_SIZE,
            )
            return {
                "rows": [LogRow(record) for record in found.records],
                "dollars": dollars,
                "found": found,
                "pages": page_links(f"{PREFIX}/logs", found.page, found.pages, values),
            }

        return await filtered_page(request, visit, "logs.html", values, load)

    @get("/{call_id:str}")
    async def detail(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        call_id: FromPath[str],
        spend: NamedDependency[SpendDesk],
    ) -> Response:
        found = await spend.logs.page(visit.principal, request_id=call_id, size=1)
        if not found.records:
            raise NotFoundException(f"No call with id '{call_id}' among the calls you may read.")
        return render(
            request, "logs_detail.html", {"row": LogRow(found.records[0]), "dollars": dollars}, visit=visit
        )
