"""What every management use case shares: its unit of work, the time, the audit trail, the caller's reach
and the checks on records a request names."""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from application.management.authority import Reach
from application.management.fields import (
    Convert,
    Fields,
    assign,
    jsonable,
    routes_in_metadata,
    terms_field,
    text,
)
from application.spend_totals import SpendLookup
from domain.access import Principal
from domain.budgets import window_at
from domain.errors import BadRequestError, NotFoundError
from domain.frozen import frozen
from domain.identity import AuditEntry, EndUser, Organization, Role, Team, User, VirtualKey
from ports.clock import Clock
from ports.unit_of_work import Repository, UnitOfWork

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E")
S = TypeVar("S", VirtualKey, User, Team, Organization, EndUser)


def _stamps(kind: type, now: datetime, principal: Principal, *, created: bool) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(kind)}
    stamps = {"created_at": now, "created_by": principal.actor} if created else {}
    stamps |= {"updated_at": now, "updated_by": principal.actor}
    return {name: value for name, value in stamps.items() if name in names}


@frozen
class Page(Generic[T]):
    """One page of a listing: `page` counts from 1."""

    items: tuple[T, ...]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.size else 0


def paging(page: int, size: int, *, most: int = 100) -> tuple[int, int]:
    """The offset and limit of page `page` of `size` records; a bad page or size is a 400 naming it."""
    if page < 1:
        raise BadRequestError(f"page must be 1 or more, got {page}", param="page")
    if not 1 <= size <= most:
        raise BadRequestError(f"size must be between 1 and {most}, got {size}", param="size")
    return (page - 1) * size, size


class ManagementService:
    """The base of the management use cases: `uow` makes one unit of work per call; `on_change` runs
    after every commit that changed identity records (so that caches of them drop stale entries)."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        on_change: Callable[[], None],
        spend: SpendLookup | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._on_change = on_change
        self._spend = spend

    async def with_spend(self, records: Sequence[S]) -> list[S]:
        """The records with their spend as the ledger counts it (in their current budget window)."""
        return await self._spend.filled(records) if self._spend is not None else list(records)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def made(self, kind: type[R], principal: Principal, **values: Any) -> R:
        """A new record of `kind`, stamped as made now by the caller."""
        return kind(**values, **_stamps(kind, self.now(), principal, created=True))

    def assigned(
        self, record: R, fields: Fields, spec: Mapping[str, Convert], *, ignore: frozenset[str] = frozenset()
    ) -> R:
        """`record` with the fields a request set (`fields.assign`), its budget's `budget_reset_at` moved to
        the end of the current window when the request set `budget_duration` (None without a duration),
        or when a duration has no reset time yet; a `budget_reset_at` the request sets itself is kept."""
        fields = routes_in_metadata(fields, getattr(record, "metadata", {}))
        changed = assign(record, fields, spec, ignore=ignore)
        part = terms_field(changed)
        terms = getattr(changed, part)
        stale = "budget_duration" in fields or (bool(terms.budget_duration) and terms.budget_reset_at is None)
        if "budget_reset_at" in fields or not stale:
            return changed
        # Windows count from the record's creation, as the budget check counts them.
        created = getattr(changed, "created_at", None)
        window = window_at(terms.budget_duration, created.timestamp() if created else None, self._clock.now())
        reset = dataclasses.replace(terms, budget_reset_at=window.resets_at)
        return dataclasses.replace(changed, **{part: reset})  # type: ignore[type-var]

    def touched(self, record: R, principal: Principal, **changes: Any) -> R:
        """`record` with `changes`, stamped as changed now by the caller."""
        stamps = _stamps(type(record), self.now(), principal, created=False)
        return dataclasses.replace(record, **changes, **stamps)  # type: ignore[type-var]

    async def commit(self, uow: UnitOfWork) -> None:
        await uow.commit()
        self._on_change()

    async def audit(
        self,
        uow: UnitOfWork,
        principal: Principal,
        action: str,
        table: str,
        object_id: str,
        before: Any = None,
        after: Any = None,
    ) -> None:
        """Records one change, in the same unit of work as the change itself."""
        await uow.audit.append(
            AuditEntry(
                id=str(uuid.uuid4()),
                at=self.now(),
                actor=principal.actor,
                action=action,
                table=table,
                object_id=object_id,
                before=jsonable(before) if before is not None else None,
                after=jsonable(after) if after is not None else None,
            )
        )

    async def member_user(
        self,
        uow: UnitOfWork,
        principal: Principal,
        spec: Any,
        *,
        organization_id: str | None = None,
        role: Role = Role.INTERNAL_USER,
    ) -> User:
        """The user a member entry (`{"user_id", "user_email", ...}`) names, found by id or else by email,
        and created when missing (as LiteLLM does) in `organization_id` with `role`."""
        if not isinstance(spec, Mapping):
            raise BadRequestError("Each member must be an object with user_id or user_email", param="member")
        user_id = text(spec.get("user_id"), "member.user_id")
        email = text(spec.get("user_email"), "member.user_email")
        if not user_id and not email:
            raise BadRequestError("Each member needs a user_id or a user_email", param="member")
        if user_id:
            found = await uow.users.get(user_id)
        else:
            by_email = await uow.users.list({"user_email": email}, limit=1)
            found = by_email[0] if by_email else None
        if found is not None:
            return found
        user = self.made(
            User,
            principal,
            user_id=user_id or new_id(),
            user_email=email,
            user_role=role,
            organization_id=organization_id,
        )
        await uow.users.add(user)
        await self.audit(uow, principal, "created", "user", user.user_id, after=user)
        return user


async def reach_of(uow: UnitOfWork, principal: Principal) -> Reach:
    """The caller with the teams and organizations it belongs to (an admin needs none of them)."""
    if principal.is_admin or principal.user_id is None:
        teams = (principal.team,) if principal.team is not None else ()
        return Reach(principal, teams=teams)
    member = {"member": principal.user_id}
    teams = await uow.teams.list(member, limit=None)
    if principal.team is not None and all(t.team_id != principal.team.team_id for t in teams):
        teams.append(principal.team)
    organizations = await uow.organizations.list(member, limit=None)
    for org_id in {principal.organization_id, principal.user.organization_id if principal.user else None}:
        if org_id and all(o.organization_id != org_id for o in organizations):
            found = await uow.organizations.get(org_id)
            if found is not None:
                organizations.append(found)
    return Reach(principal, teams=tuple(teams), organizations=tuple(organizations))


async def fetch(repository: Repository[E], id: Any, noun: str, *, param: str) -> E:
    """The record `id` names: a 400 naming `param` for a missing or malformed id, a 404 for an unknown one."""
    if not isinstance(id, str) or not id:
        raise BadRequestError(f"{param} must name a {noun}", param=param)
    found = await repository.get(id)
    if found is None:
        raise NotFoundError(f"{noun[:1].upper()}{noun[1:]} {id} not found", param=param)
    return found


async def require_budget(uow: UnitOfWork, record: Any, before: Any = None) -> None:
    """The budget a record points at (`budget.budget_id`) must exist, when the record is new (`before`
    None) or points at another one than `before`: 400 naming budget_id otherwise."""
    budget_id = record.budget.budget_id
    if before is not None and before.budget.budget_id == budget_id:
        return
    if budget_id is not None and await uow.budgets.get(budget_id) is None:
        raise BadRequestError(
            f"budget_id {budget_id!r} names no budget; create it with /budget/new first", param="budget_id"
        )


def new_id() -> str:
    return str(uuid.uuid4())
