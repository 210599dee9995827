"""What keys, users, teams, organizations and end users have spent, as the management API shows it: the
ledger's spend in each record's current budget window (all time without a duration)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from domain.budgets import window_at
from domain.identity import EndUser, Organization, Team, User, VirtualKey
from domain.spend import subject
from ports.clock import Clock
from ports.spend_ledger import SpendLedger
from ports.unit_of_work import StoreUnavailable

R = TypeVar("R", VirtualKey, User, Team, Organization, EndUser)


def subject_of(record: VirtualKey | User | Team | Organization | EndUser) -> str:
    if isinstance(record, VirtualKey):
        return subject("key", record.token)
    if isinstance(record, Team):
        return subject("team", record.team_id)
    if isinstance(record, Organization):
        return subject("organization", record.organization_id)
    if isinstance(record, EndUser):
        return subject("end_user", record.user_id)
    return subject("user", record.user_id)


class SpendLookup:
    """Fills records' `budget.spend` from the ledger. While the database cannot answer, records keep the
    spend they were read with."""

    def __init__(self, *, ledger: SpendLedger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    async def filled(self, records: Sequence[R]) -> list[R]:
        now = self._clock.now()
        whole: list[str] = []
        windows: dict[str, float] = {}
        for record in records:
            terms = record.budget
            created = record.created_at.timestamp() if record.created_at else None
            window = window_at(terms.budget_duration, created, now)
            if window.end is None:
                whole.append(subject_of(record))
            else:
                windows[subject_of(record)] = window.start
        try:
            spent = dict(await self._ledger.totals(whole)) if whole else {}
            for name, start in windows.items():
                spent[name] = await self._ledger.spend_since(name, datetime.fromtimestamp(start, UTC))
        except StoreUnavailable:
            return list(records)
        return [_spent(record, spent.get(subject_of(record))) for record in records]


def _spent(record: R, spend: Decimal | None) -> R:
    if spend is None:
        return record
    return dataclasses.replace(record, budget=dataclasses.replace(record.budget, spend=spend))
