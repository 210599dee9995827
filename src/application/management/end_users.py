"""End users (LiteLLM's customers): the people an application names in a request's `user` field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from application.management.authority import require_admin, require_reads_everything
from application.management.fields import TERM_FIELDS, Convert, Fields, flag, mapping, required_text, text
from application.management.service import ManagementService, fetch, require_budget
from domain.access import Principal
from domain.errors import BadRequestError, ConflictError, NotFoundError
from domain.identity import EndUser
from ports.unit_of_work import UnitOfWork


def region(value: Any, param: str) -> str | None:
    if value is not None and value not in ("eu", "us"):
        raise BadRequestError(f"{param} must be 'eu' or 'us', got {value!r}", param=param)
    return value


END_USER_FIELDS: dict[str, Convert] = {
    "alias": text,
    "blocked": flag,
    **TERM_FIELDS,
    "allowed_model_region": region,
    "default_model": text,
    "metadata": mapping,
}


class EndUsers(ManagementService):
    async def new(self, principal: Principal, fields: Fields) -> EndUser:
        require_admin(principal, "create customers")
        wanted = dict(fields)
        user_id = required_text(wanted.pop("user_id", None), "user_id")
        if wanted.get("max_budget") is not None and wanted.get("budget_id") is not None:
            raise BadRequestError("Set either max_budget or budget_id, not both", param="budget_id")
        async with self._uow() as uow:
            if await uow.end_users.get(user_id) is not None:
                raise ConflictError(f"Customer {user_id} already exists", param="user_id")
            end_user = self.assigned(self.made(EndUser, principal, user_id=user_id), wanted, END_USER_FIELDS)
            await require_budget(uow, end_user)
            await uow.end_users.add(end_user)
            await self.audit(uow, principal, "created", "end_user", user_id, after=end_user)
            await self.commit(uow)
        return end_user

    async def update(self, principal: Principal, user_id: str, fields: Fields) -> EndUser:
        require_admin(principal, "change customers")
        async with self._uow() as uow:
            before = await _get(uow, user_id)
            end_user = self.assigned(before, fields, END_USER_FIELDS)
            await require_budget(uow, end_user, before)
            end_user = self.touched(end_user, principal)
            await uow.end_users.update(end_user)
            await self.audit(uow, principal, "updated", "end_user", user_id, before=before, after=end_user)
            await self.commit(uow)
        return end_user

    async def delete(self, principal: Principal, user_ids: Sequence[str]) -> list[str]:
        """Deletes every named customer, or none when one of them does not exist."""
        require_admin(principal, "delete customers")
        ids = _ids(user_ids)
        async with self._uow() as uow:
            found = {e.user_id: e for e in await uow.end_users.get_many(ids)}
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFoundError(f"Customer(s) {', '.join(missing)} not found", param="user_ids")
            for user_id in ids:
                await uow.end_users.delete(user_id)
                await self.audit(uow, principal, "deleted", "end_user", user_id, before=found[user_id])
            await self.commit(uow)
        return ids

    async def info(self, principal: Principal, user_id: str) -> EndUser:
        require_reads_everything(principal, "read customers")
        async with self._uow() as uow:
            found = await _get(uow, user_id, param="end_user_id")
        [found] = await self.with_spend([found])
        return found

    async def list(self, principal: Principal) -> list[EndUser]:
        require_reads_everything(principal, "list customers")
        async with self._uow() as uow:
            return await uow.end_users.list(limit=None)

    async def block(self, principal: Principal, user_ids: Sequence[str], blocked: bool) -> list[EndUser]:
        """Blocks customers (created when unknown, so that a block holds before their first call), or
        unblocks known ones."""
        require_admin(principal, "block customers" if blocked else "unblock customers")
        ids = _ids(user_ids)
        changed = []
        async with self._uow() as uow:
            for user_id in ids:
                before = await uow.end_users.get(user_id)
                if before is None and not blocked:
                    raise NotFoundError(f"Customer {user_id} not found", param="user_ids")
                if before is None:
                    end_user = self.made(EndUser, principal, user_id=user_id, blocked=True)
                    await uow.end_users.add(end_user)
                else:
                    end_user = self.touched(before, principal, blocked=blocked)
                    await uow.end_users.update(end_user)
                action = "blocked" if blocked else "unblocked"
                await self.audit(uow, principal, action, "end_user", user_id, before=before, after=end_user)
                changed.append(end_user)
            await self.commit(uow)
        return changed


def _ids(user_ids: Sequence[str]) -> list[str]:
    if not user_ids or not all(isinstance(i, str) and i for i in user_ids):
        raise BadRequestError("user_ids must list one or more customer ids", param="user_ids")
    return list(dict.fromkeys(user_ids))


async def _get(uow: UnitOfWork, user_id: Any, *, param: str = "user_id") -> EndUser:
    return await fetch(uow.end_users, user_id, "customer", param=param)
