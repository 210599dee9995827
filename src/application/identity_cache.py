"""The records authentication needs, cached in process so that the request path never waits on the
database for a key it has seen."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any

from domain.access import Principal, Via
from domain.errors import ServiceUnavailableError
from domain.frozen import frozen
from domain.identity import Budget, EndUser, Organization, Role, Team, User
from ports.clock import Clock
from ports.unit_of_work import IDENTITY, StoreUnavailable, UnitOfWork


@dataclasses.dataclass(slots=True)
class _Entry:
    value: Any
    loaded_at: float


@frozen
class Records:
    """A user, team and organization as one caller's rights and limits see them, with their budgets."""

    user: User | None = None
    team: Team | None = None
    organization: Organization | None = None
    budgets: Mapping[str, Budget] = dataclasses.field(default_factory=dict)


class IdentityCache:
    """Keys (as the principals they make), end users and user/team/organization records, by id.

    - An entry is served for `ttl` seconds; after that the next lookup reloads it (one load per entry at
      a time, however many callers wait for it).
    - `invalidate()` drops everything: called after a change made in this process, and by `poll()` when
      the database's identity stamp moved (a change made by another instance), so a change takes effect
      everywhere within the poll interval.
    - While the database cannot be reached, entries up to `stale_for` seconds old keep being served: keys
      seen recently keep working through an outage. A record never seen raises ServiceUnavailableError.
    """

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        ttl: float = 60.0,
        stale_for: float = 3600.0,
        max_entries: int = 100_000,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ttl = ttl
        self._stale_for = stale_for
        self._max_entries = max_entries
        self._entries: dict[Hashable, _Entry] = {}
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}
        self._generation = 0
        self._stamp: int | None = None

    def invalidate(self) -> None:
        self._entries.clear()
        self._generation += 1

    async def poll(self, stamps: Mapping[str, int] | None = None) -> bool:
        """Drops every entry when the identity stamp moved (`stamps` read already, or read now). Returns
        whether it did."""
        if stamps is None:
            async with self._uow() as uow:
                stamps = await uow.stamps()
        stamp = stamps.get(IDENTITY, 0)
        moved = self._stamp is not None and stamp != self._stamp
        self._stamp = stamp
        if moved:
            self.invalidate()
        return moved

    async def principal_for_key(self, token: str) -> Principal | None:
        """The principal of the key whose SHA-256 is `token`, None for a key never issued."""
        return await self._get(("key", token), lambda uow: _load_key(uow, token))

    async def records(self, user_id: str | None, team_id: str | None, org_id: str | None) -> Records:
        key = ("records", user_id, team_id, org_id)
        return await self._get(key, lambda uow: _load_records(uow, user_id, team_id, org_id))

    async def end_user(self, user_id: str) -> tuple[EndUser | None, Mapping[str, Budget]]:
        """The end user named by a request's `user` field (None when never registered), with its budget."""

        async def load(uow: UnitOfWork) -> tuple[EndUser | None, Mapping[str, Budget]]:
            end_user = await uow.end_users.get(user_id)
            return end_user, await _budgets(uow, [end_user.budget.budget_id if end_user else None])

        return await self._get(("end_user", user_id), load)

    async def _get(self, key: Hashable, load: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        entry = self._entries.get(key)
        now = self._clock.monotonic()
        if entry is not None and now - entry.loaded_at < self._ttl:
            return entry.value
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        generation = self._generation
        try:
            async with self._uow() as uow:
                value = await load(uow)
        except StoreUnavailable as exc:
            if entry is not None and now - entry.loaded_at < self._stale_for:
                value = entry.value
            else:
                error = ServiceUnavailableError(
                    "The key store cannot be reached; try again shortly.", code="key_store_unavailable"
                )
                future.set_exception(error)
                future.exception()  # retrieved: waiters re-raise it, nobody else must log it
                raise error from exc
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        else:
            # A change seen while loading makes this value suspect: serve it to this caller, keep it not.
            if generation == self._generation:
                self._store(key, value, now)
        finally:
            self._loading.pop(key, None)
        if not future.done():
            future.set_result(value)
        return value

    def _store(self, key: Hashable, value: Any, now: float) -> None:
        if len(self._entries) >= self._max_entries:
            # Oldest inserted first: dicts keep insertion order, and a reload re-inserts at the end.
            for stale in list(self._entries)[: self._max_entries // 10 or 1]:
                del self._entries[stale]
        self._entries.pop(key, None)
        self._entries[key] = _Entry(value, now)


async def _budgets(uow: UnitOfWork, ids: list[str | None]) -> Mapping[str, Budget]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return {budget.budget_id: budget for budget in await uow.budgets.get_many(wanted)}


async def _load_records(
    uow: UnitOfWork, user_id: str | None, team_id: str | None, org_id: str | None
) -> Records:
    user = await uow.users.get(user_id) if user_id else None
    team = await uow.teams.get(team_id) if team_id else None
    org_id = org_id or (team.organization_id if team else None) or (user.organization_id if user else None)
    organization = await uow.organizations.get(org_id) if org_id else None
    budgets = await _budgets(
        uow,
        [
            user.budget.budget_id if user else None,
            team.budget.budget_id if team else None,
            organization.budget.budget_id if organization else None,
        ],
    )
    return Records(user, team, organization, budgets)


async def _load_key(uow: UnitOfWork, token: str) -> Principal | None:
    key = await uow.keys.get(token)
    if key is None:
        return None
    records = await _load_records(uow, key.user_id, key.team_id, key.organization_id)
    budgets = dict(records.budgets)
    if key.budget.budget_id and key.budget.budget_id not in budgets:
        budgets.update(await _budgets(uow, [key.budget.budget_id]))
    user = records.user
    return Principal(
        via=Via.VIRTUAL_KEY,
        role=user.user_role if user is not None else Role.INTERNAL_USER,
        key=key,
        user=user,
        team=records.team,
        organization=records.organization,
        budgets=budgets,
        user_id=key.user_id,
        team_id=key.team_id,
        organization_id=records.organization.organization_id if records.organization else key.organization_id,
    )
