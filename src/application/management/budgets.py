"""Budgets as objects of their own, shared by the keys, teams, users, organizations and customers that
point at them with `budget_id`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from application.management.authority import require_admin, require_reads_everything
from application.management.fields import TERM_FIELDS, Convert, Fields, text
from application.management.service import ManagementService, fetch, new_id
from domain.access import Principal
from domain.errors import BadRequestError, ConflictError, NotFoundError
from domain.identity import Budget
from ports.unit_of_work import UnitOfWork


def moment(value: Any, param: str) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        found = value
    else:
        try:
            found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise BadRequestError(f"{param} must be an ISO 8601 time, got {value!r}", param=param) from None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


BUDGET_FIELDS: dict[str, Convert] = {
    # A budget's own budget_id is its id, not a budget it points at.
    **{name: convert for name, convert in TERM_FIELDS.items() if name != "budget_id"},
    "budget_reset_at": moment,
}


class Budgets(ManagementService):
    async def new(self, principal: Principal, fields: Fields) -> Budget:
        """A budget; `budget_reset_at` defaults to one `budget_duration` from now."""
        require_admin(principal, "create budgets")
        wanted = dict(fields)
        budget_id = text(wanted.pop("budget_id", None), "budget_id") or new_id()
        async with self._uow() as uow:
            if await uow.budgets.get(budget_id) is not None:
                raise ConflictError(f"Budget {budget_id} already exists", param="budget_id")
            budget = self.made(Budget, principal, budget_id=budget_id)
            budget = self.assigned(budget, wanted, BUDGET_FIELDS)
            await uow.budgets.add(budget)
            await self.audit(uow, principal, "created", "budget", budget_id, after=budget)
            await self.commit(uow)
        return budget

    async def update(self, principal: Principal, budget_id: str, fields: Fields) -> Budget:
        require_admin(principal, "change budgets")
        async with self._uow() as uow:
            before = await _get(uow, budget_id)
            budget = self.assigned(before, fields, BUDGET_FIELDS)
            budget = self.touched(budget, principal)
            await uow.budgets.update(budget)
            await self.audit(uow, principal, "updated", "budget", budget_id, before=before, after=budget)
            await self.commit(uow)
        return budget

    async def delete(self, principal: Principal, budget_id: str) -> Budget:
        require_admin(principal, "delete budgets")
        async with self._uow() as uow:
            before = await _get(uow, budget_id, param="id")
            await uow.budgets.delete(budget_id)
            await self.audit(uow, principal, "deleted", "budget", budget_id, before=before)
            await self.commit(uow)
        return before

    async def info(self, principal: Principal, budget_ids: Sequence[str]) -> list[Budget]:
        require_reads_everything(principal, "read budgets")
        if not budget_ids:
            raise BadRequestError("budgets must name at least one budget", param="budgets")
        async with self._uow() as uow:
            found = {b.budget_id: b for b in await uow.budgets.get_many(list(budget_ids))}
        missing = [b for b in budget_ids if b not in found]
        if missing:
            raise NotFoundError(f"Budget(s) {', '.join(missing)} not found", param="budgets")
        return [found[b] for b in dict.fromkeys(budget_ids)]

    async def list(self, principal: Principal) -> list[Budget]:
        require_reads_everything(principal, "list budgets")
        async with self._uow() as uow:
            return await uow.budgets.list(limit=None)


async def _get(uow: UnitOfWork, budget_id: Any, *, param: str = "budget_id") -> Budget:
    return await fetch(uow.budgets, budget_id, "budget", param=param)
