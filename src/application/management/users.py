"""Users of the gateway (people and services), with their team memberships and keys."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from application.management.authority import (
    bound_grant,
    check_create_user,
    check_manage_members,
    check_manage_user,
    may_read_user,
    refuse,
    require_reads_everything,
)
from application.management.fields import TERM_FIELDS, Convert, Fields, flag, mapping, names, role, text
from application.management.keys import Issued, Keys
from application.management.service import (
    ManagementService,
    Page,
    new_id,
    paging,
    reach_of,
    require_budget,
)
from application.management.teams import member_role
from application.spend_totals import SpendLookup
from domain.access import Principal, Via
from domain.errors import BadRequestError, ConflictError, NotFoundError
from domain.frozen import frozen
from domain.identity import Member, Role, Team, User, VirtualKey
from ports.clock import Clock
from ports.password_hasher import PasswordHasher
from ports.unit_of_work import UnitOfWork

USER_FIELDS: dict[str, Convert] = {
    "user_email": text,
    "user_alias": text,
    "user_role": role,
    "organization_id": text,
    "models": names,
    **TERM_FIELDS,
    "blocked": flag,
    "metadata": mapping,
}

_KEY_FIELDS = ("duration", "key_alias", "team_id")
"""Fields of /user/new that shape the key it creates rather than the user."""


@frozen
class NewUser:
    user: User
    teams: tuple[Team, ...]
    issued: Issued | None


@frozen
class UserView:
    """A user (None for a caller known only by id) with its teams and, for /user/info, its keys."""

    user_id: str | None
    user: User | None
    teams: tuple[Team, ...] = ()
    keys: tuple[VirtualKey, ...] = ()


class Users(ManagementService):
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        on_change: Callable[[], None],
        keys: Keys,
        spend: SpendLookup | None = None,
        passwords: PasswordHasher | None = None,
    ) -> None:
        super().__init__(uow=uow, clock=clock, on_change=on_change, spend=spend)
        self._keys = keys
        self._passwords = passwords
        self._decoy: str | None = None
        """A hash of nothing anyone knows, checked when no user has the email signing in."""

    async def hashed(self, password: Any) -> str:
        """`password` (a request's field) as the hash a user keeps; 400 naming `password` when it is not
        a non-empty string. Hashing is slow on purpose, so it runs off the event loop."""
        if not isinstance(password, str) or not password:
            raise BadRequestError("password must be a non-empty string", param="password")
        if self._passwords is None:
            raise BadRequestError("This gateway does not keep passwords", param="password")
        return await asyncio.to_thread(self._passwords.hash, password)

    async def signed_in(self, email: str, password: str) -> User | None:
        """The user whose email and console password these are; None alike for an unknown email, a user
        without a password and a wrong password. An unknown email still costs one hash check, so the
        time taken tells nothing either."""
        if self._passwords is None or not email or not password:
            return None
        async with self._uow() as uow:
            found = await uow.users.list({"user_email": email}, limit=1)
        hashed = found[0].password_hash if found else None
        if hashed is None:
            hashed = self._decoy or await self.hashed(secrets.token_urlsafe(16))
            self._decoy = hashed
        matches = await asyncio.to_thread(self._passwords.verify, hashed, password)
        return found[0] if matches and found else None

    async def single_sign_on(self, user_id: str, email: str | None, role: Role | None) -> User:
        """The user an identity provider vouched for: found by id, else by email, else created (as
        LiteLLM does, an internal_user_viewer unless the provider names a role). A role the provider
        names replaces the stored one, so the provider stays the authority on it."""
        async with self._uow() as uow:
            found = await uow.users.get(user_id)
            if found is None and email:
                by_email = await uow.users.list({"user_email": email}, limit=1)
                found = by_email[0] if by_email else None
            if found is not None and (role is None or role is found.user_role):
                return found
            subject = Principal(via=Via.CONSOLE, role=role or Role.INTERNAL_USER_VIEWER, user_id=user_id)
            if found is None:
                user = self.made(User, subject, user_id=user_id, user_email=email, user_role=subject.role)
                await self._check(uow, user, None)
                await uow.users.add(user)
                await self.audit(uow, subject, "created", "user", user_id, after=user)
            else:
                user = self.touched(found, subject, user_role=subject.role)
                await uow.users.update(user)
                await self.audit(uow, subject, "updated", "user", user.user_id, before=found, after=user)
            await self.commit(uow)
        return user

    async def _password_change(self, wanted: dict[str, Any]) -> dict[str, str]:
        """The `password_hash` a request's `password` (taken out of `wanted`) sets, if it has one."""
        if "password" not in wanted:
            return {}
        return {"password_hash": await self.hashed(wanted.pop("password"))}

    async def new(self, principal: Principal, fields: Fields) -> NewUser:
        """A user (id generated when absent), joined to `teams`, with a key of its own unless
        `auto_create_key` is false. An org_admin creates users in its own organization only, with no
        more rights than it holds."""
        wanted = dict(fields)
        user_id = text(wanted.pop("user_id", None), "user_id") or new_id()
        team_specs = wanted.pop("teams", None) or []
        auto_key = wanted.pop("auto_create_key", True)
        key_fields = {name: wanted.pop(name) for name in _KEY_FIELDS if name in wanted}
        password = await self._password_change(wanted)
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            if wanted.get("organization_id") is None and not principal.is_admin:
                own = reach.admin_organization_ids()
                if len(own) == 1:
                    wanted["organization_id"] = next(iter(own))
            check_create_user(reach, wanted.get("organization_id"))
            wanted = bound_grant(principal, wanted, inherit=True)
            if await uow.users.get(user_id) is not None:
                raise ConflictError(f"User {user_id} already exists", param="user_id")
            user = self.assigned(self.made(User, principal, user_id=user_id, **password), wanted, USER_FIELDS)
            await self._check(uow, user, None)
            await uow.users.add(user)
            await self.audit(uow, principal, "created", "user", user_id, after=user)
            teams = []
            for spec in _team_specs(team_specs):
                teams.append(await self._join(uow, principal, reach, user, spec))
            issued = None
            if auto_key:
                issued = await self._keys.mint(
                    uow, principal, reach, {"user_id": user_id, "models": list(user.models), **key_fields}
                )
            await self.commit(uow)
        return NewUser(user, tuple(teams), issued)

    async def update(
        self,
        principal: Principal,
        fields: Fields,
        *,
        user_id: str | None = None,
        user_email: str | None = None,
    ) -> User:
        wanted = dict(fields)
        password = await self._password_change(wanted)
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _find(uow, user_id, user_email)
            check_manage_user(reach, before, "update")
            wanted = bound_grant(principal, wanted, inherit=False)
            user = dataclasses.replace(self.assigned(before, wanted, USER_FIELDS), **password)
            if user.organization_id != before.organization_id and user.organization_id is not None:
                check_create_user(reach, user.organization_id)
            await self._check(uow, user, before)
            user = self.touched(user, principal)
            await uow.users.update(user)
            await self.audit(uow, principal, "updated", "user", user.user_id, before=before, after=user)
            await self.commit(uow)
        return user

    async def delete(self, principal: Principal, user_ids: Sequence[str]) -> list[str]:
        """Deletes every named user with its keys and memberships, or nothing."""
        if not user_ids:
            raise BadRequestError("user_ids must name at least one user", param="user_ids")
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            users = [await _find(uow, uid, None, param="user_ids") for uid in dict.fromkeys(user_ids)]
            for user in users:
                check_manage_user(reach, user, "delete")
            for user in users:
                await self._remove(uow, principal, user)
            await self.commit(uow)
        return list(dict.fromkeys(user_ids))

    async def info(self, principal: Principal, user_id: str | None) -> UserView:
        """A user with its teams and keys; with no `user_id`, the caller."""
        user_id = user_id or principal.user_id
        if user_id is None:
            if principal.reads_everything:
                return UserView(None, None)
            raise BadRequestError("user_id is required: this credential names no user", param="user_id")
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            user = await uow.users.get(user_id)
            if user is None and user_id != principal.user_id:
                raise NotFoundError(f"User {user_id} not found", param="user_id")
            if user is not None and not may_read_user(reach, user):
                refuse(f"You may not read user {user_id}.", param="user_id")
            teams = await uow.teams.list({"member": user_id}, limit=None)
            keys = await uow.keys.list({"user_id": user_id}, limit=None)
        if user is not None:
            [user] = await self.with_spend([user])
        return UserView(user_id, user, tuple(teams), tuple(await self.with_spend(keys)))

    async def list(
        self,
        principal: Principal,
        *,
        page: int = 1,
        size: int = 25,
        user_role: str | None = None,
        organization_id: str | None = None,
        user_ids: Sequence[str] = (),
    ) -> Page[UserView]:
        """Users with their teams: every user for admins and viewers, those of its organization for an
        org_admin."""
        offset, limit = paging(page, size)
        where = {n: v for n, v in (("user_role", user_role), ("organization_id", organization_id)) if v}
        if user_role is not None:
            role(user_role, "role")
        async with self._uow() as uow:
            if not principal.reads_everything:
                reach = await reach_of(uow, principal)
                own = reach.admin_organization_ids()
                if organization_id is None and len(own) == 1:
                    where["organization_id"] = next(iter(own))
                if where.get("organization_id") not in own:
                    require_reads_everything(principal, "list users outside an organization they administer")
            if user_ids:
                chosen = [u for u in await uow.users.get_many(list(user_ids)) if _matches(u, where)]
                chosen.sort(key=lambda u: list(user_ids).index(u.user_id))
                total, found = len(chosen), chosen[offset : offset + limit]
            else:
                total = await uow.users.count(where)
                found = await uow.users.list(where, offset=offset, limit=limit)
            views = [
                UserView(u.user_id, u, tuple(await uow.teams.list({"member": u.user_id}, limit=None)))
                for u in found
            ]
        return Page(tuple(views), total, page, size)

    async def _join(
        self, uow: UnitOfWork, principal: Principal, reach: Any, user: User, spec: Mapping
    ) -> Team:
        team = await uow.teams.get(spec["team_id"])
        if team is None:
            raise BadRequestError(f"teams names a team that does not exist: {spec['team_id']}", param="teams")
        check_manage_members(reach, team)
        if team.member(user.user_id) is None:
            member = Member(
                user.user_id, member_role(spec.get("user_role"), "teams.user_role"), user.user_email
            )
            joined = self.touched(team, principal, members=(*team.members, member))
            await uow.teams.update(joined)
            await self.audit(uow, principal, "member_added", "team", team.team_id, before=team, after=joined)
            team = joined
        return team

    async def _remove(self, uow: UnitOfWork, principal: Principal, user: User) -> None:
        uid = user.user_id
        for key in await uow.keys.list({"user_id": uid}, limit=None):
            await uow.keys.delete(key.token)
            await self.audit(uow, principal, "deleted", "key", key.token, before=key)
        for team in await uow.teams.list({"member": uid}, limit=None):
            left = dataclasses.replace(team, members=tuple(m for m in team.members if m.user_id != uid))
            await uow.teams.update(left)
            await self.audit(uow, principal, "member_removed", "team", team.team_id, before=team, after=left)
        for org in await uow.organizations.list({"member": uid}, limit=None):
            left_org = dataclasses.replace(org, members=tuple(m for m in org.members if m.user_id != uid))
            await uow.organizations.update(left_org)
            await self.audit(
                uow,
                principal,
                "member_removed",
                "organization",
                org.organization_id,
                before=org,
                after=left_org,
            )
        await uow.users.delete(uid)
        await self.audit(uow, principal, "deleted", "user", uid, before=user)

    async def _check(self, uow: UnitOfWork, user: User, before: User | None) -> None:
        if user.user_email and (before is None or user.user_email != before.user_email):
            taken = await uow.users.list({"user_email": user.user_email}, limit=2)
            if any(u.user_id != user.user_id for u in taken):
                raise ConflictError(
                    f"A user with the email {user.user_email!r} already exists", param="user_email"
                )
        moved = user.organization_id and (before is None or user.organization_id != before.organization_id)
        if moved and await uow.organizations.get(user.organization_id) is None:
            raise BadRequestError(
                f"organization_id {user.organization_id!r} names no organization", param="organization_id"
            )
        await require_budget(uow, user, before)


async def _find(uow: UnitOfWork, user_id: Any, user_email: Any, *, param: str = "user_id") -> User:
    if user_id:
        if not isinstance(user_id, str):
            raise BadRequestError(f"{param} must name users by id", param=param)
        found = await uow.users.get(user_id)
        if found is None:
            raise NotFoundError(f"User {user_id} not found", param=param)
        return found
    if user_email:
        by_email = await uow.users.list({"user_email": user_email}, limit=1)
        if not by_email:
            raise NotFoundError(f"No user has the email {user_email}", param="user_email")
        return by_email[0]
    raise BadRequestError("Name the user by user_id or user_email", param="user_id")


def _team_specs(specs: Any) -> list[Mapping[str, Any]]:
    """`teams` as LiteLLM takes it: team ids, or `{"team_id", "user_role"}` objects."""
    if not isinstance(specs, list):
        raise BadRequestError("teams must be a list of team ids", param="teams")
    found = []
    for spec in specs:
        if isinstance(spec, str):
            spec = {"team_id": spec}
        if not isinstance(spec, Mapping) or not isinstance(spec.get("team_id"), str):
            raise BadRequestError("teams must list team ids or {team_id, user_role} objects", param="teams")
        found.append(spec)
    return found


def _matches(user: User, where: Mapping[str, str]) -> bool:
    return all(str(getattr(user, name)) == value for name, value in where.items())
