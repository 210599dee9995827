"""Teams and their members."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from application.management.authority import (
    check_create_team,
    check_manage_members,
    check_manage_team,
    may_read_team,
    refuse,
    require_admin,
)
from application.management.fields import TERM_FIELDS, Convert, Fields, flag, mapping, names, text
from application.management.service import ManagementService, fetch, new_id, reach_of, require_budget
from domain.access import PASSTHROUGH_ROUTES_FIELD, Principal, model_in
from domain.errors import BadRequestError, ConflictError, NotFoundError
from domain.frozen import frozen
from domain.identity import Member, MemberRole, Organization, Team, User, VirtualKey
from ports.unit_of_work import UnitOfWork

TEAM_FIELDS: dict[str, Convert] = {
    "team_alias": text,
    "organization_id": text,
    "models": names,
    **TERM_FIELDS,
    "blocked": flag,
    "metadata": mapping,
    "tags": names,
}


@frozen
class TeamView:
    """A team with the keys the caller may see in it."""

    team: Team
    keys: tuple[VirtualKey, ...]


@frozen
class Joined:
    """A team or organization after members joined it, with the users who joined."""

    record: Team | Organization
    users: tuple[User, ...]


def member_role(value: Any, param: str = "member.role") -> MemberRole:
    try:
        return MemberRole(value if value is not None else "user")
    except ValueError:
        raise BadRequestError(f"{param} must be 'admin' or 'user', got {value!r}", param=param) from None


class Teams(ManagementService):
    async def new(self, principal: Principal, fields: Fields) -> Team:
        """A team, in an organization the caller administers unless it is an admin; members named by
        `members_with_roles` (users created when missing); a creator who is not an admin joins as its
        admin."""
        _require_admin_for_routes(principal, fields)
        wanted = dict(fields)
        team_id = text(wanted.pop("team_id", None), "team_id") or new_id()
        members = wanted.pop("members_with_roles", None) or []
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            if wanted.get("organization_id") is None and not principal.is_admin:
                own = reach.admin_organization_ids()
                if len(own) == 1:
                    wanted["organization_id"] = next(iter(own))
            check_create_team(reach, wanted.get("organization_id"))
            if await uow.teams.get(team_id) is not None:
                raise ConflictError(f"Team {team_id} already exists", param="team_id")
            team = self.assigned(self.made(Team, principal, team_id=team_id), wanted, TEAM_FIELDS)
            await self._check(uow, team, None)
            joined = [await self._member(uow, principal, spec, team) for spec in _listed(members)]
            if not principal.is_admin and reach.user_id and all(m.user_id != reach.user_id for m in joined):
                joined.append(Member(reach.user_id, MemberRole.ADMIN, _email(principal)))
            team = dataclasses.replace(team, members=tuple(joined))
            await uow.teams.add(team)
            await self.audit(uow, principal, "created", "team", team.team_id, after=team)
            await self.commit(uow)
        return team

    async def update(self, principal: Principal, team_id: str, fields: Fields) -> Team:
        _require_admin_for_routes(principal, fields)
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, team_id)
            check_manage_team(reach, before, "update")
            team = self.assigned(before, fields, TEAM_FIELDS)
            if team.organization_id != before.organization_id:
                check_create_team(reach, team.organization_id)
            await self._check(uow, team, before)
            team = self.touched(team, principal)
            await uow.teams.update(team)
            await self.audit(uow, principal, "updated", "team", team.team_id, before=before, after=team)
            await self.commit(uow)
        return team

    async def delete(self, principal: Principal, team_ids: Sequence[str]) -> list[str]:
        """Deletes every named team and its keys, or nothing."""
        if not team_ids:
            raise BadRequestError("team_ids must name at least one team", param="team_ids")
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            teams = [await _get(uow, team_id, param="team_ids") for team_id in dict.fromkeys(team_ids)]
            for team in teams:
                check_manage_team(reach, team, "delete")
            for team in teams:
                for key in await uow.keys.list({"team_id": team.team_id}, limit=None):
                    await uow.keys.delete(key.token)
                    await self.audit(uow, principal, "deleted", "key", key.token, before=key)
                await uow.teams.delete(team.team_id)
                await self.audit(uow, principal, "deleted", "team", team.team_id, before=team)
            await self.commit(uow)
        return list(dict.fromkeys(team_ids))

    async def info(self, principal: Principal, team_id: str) -> TeamView:
        """A team and its keys: all of them for its admins, the caller's own for a member."""
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            team = await _get(uow, team_id)
            if not may_read_team(reach, team):
                refuse(f"You may not read team {team_id}: you are not a member of it.", param="team_id")
            where: dict[str, str] = {"team_id": team_id}
            if not (principal.reads_everything or reach.administers_team(team)):
                if reach.user_id is None:
                    return TeamView(team, ())
                where["user_id"] = reach.user_id
            keys = await uow.keys.list(where, limit=None)
        [team] = await self.with_spend([team])
        return TeamView(team, tuple(await self.with_spend(keys)))

    async def list(
        self, principal: Principal, *, user_id: str | None = None, organization_id: str | None = None
    ) -> list[Team]:
        """Teams, filtered by member or organization: all of them for admins and viewers; for others the
        teams they belong to and those of organizations they administer."""
        where = {n: v for n, v in (("member", user_id), ("organization_id", organization_id)) if v}
        async with self._uow() as uow:
            if principal.reads_everything:
                return await uow.teams.list(where, limit=None)
            reach = await reach_of(uow, principal)
            if user_id and user_id != reach.user_id:
                user = await uow.users.get(user_id)
                if user is None or not reach.administers_user(user):
                    refuse(f"You may not list the teams of user {user_id}.", param="user_id")
            if organization_id and not reach.administers_organization(organization_id):
                refuse(
                    f"You may not list the teams of organization {organization_id}.", param="organization_id"
                )
            if where:
                return await uow.teams.list(where, limit=None)
            found = {t.team_id: t for t in reach.teams if t.team_id in reach.team_ids()}
            for org_id in sorted(reach.admin_organization_ids()):
                for team in await uow.teams.list({"organization_id": org_id}, limit=None):
                    found.setdefault(team.team_id, team)
        return list(found.values())

    async def member_add(self, principal: Principal, team_id: str, members: Sequence[Any]) -> Joined:
        """Adds members (`{"role", "user_id", "user_email"}`); users named but missing are created."""
        if not members:
            raise BadRequestError("member must name at least one user", param="member")
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, team_id)
            check_manage_members(reach, before)
            team, users = before, []
            for spec in members:
                member = await self._member(uow, principal, spec, team)
                if team.member(member.user_id) is not None:
                    raise ConflictError(
                        f"User {member.user_id} is already a member of team {team_id}", param="member"
                    )
                team = dataclasses.replace(team, members=(*team.members, member))
                users.append(await uow.users.get(member.user_id))
            team = self.touched(team, principal)
            await uow.teams.update(team)
            await self.audit(uow, principal, "member_added", "team", team_id, before=before, after=team)
            await self.commit(uow)
        return Joined(team, tuple(u for u in users if u is not None))

    async def member_delete(
        self, principal: Principal, team_id: str, *, user_id: str | None = None, user_email: str | None = None
    ) -> Team:
        """Removes a member (by id or email) and the keys it holds in the team."""
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, team_id)
            check_manage_members(reach, before)
            gone = _find_member(before, user_id, user_email)
            team = self.touched(before, principal, members=tuple(m for m in before.members if m != gone))
            for key in await uow.keys.list({"team_id": team_id, "user_id": gone.user_id}, limit=None):
                await uow.keys.delete(key.token)
                await self.audit(uow, principal, "deleted", "key", key.token, before=key)
            await uow.teams.update(team)
            await self.audit(uow, principal, "member_removed", "team", team_id, before=before, after=team)
            await self.commit(uow)
        return team

    async def block(self, principal: Principal, team_id: str, blocked: bool) -> Team:
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, team_id)
            check_manage_team(reach, before, "block" if blocked else "unblock")
            team = self.touched(before, principal, blocked=blocked)
            await uow.teams.update(team)
            action = "blocked" if blocked else "unblocked"
            await self.audit(uow, principal, action, "team", team_id, before=before, after=team)
            await self.commit(uow)
        return team

    async def _member(self, uow: UnitOfWork, principal: Principal, spec: Any, team: Team) -> Member:
        user = await self.member_user(uow, principal, spec, organization_id=team.organization_id)
        role = member_role(spec.get("role"))
        return Member(user.user_id, role, user.user_email or spec.get("user_email"))

    async def _check(self, uow: UnitOfWork, team: Team, before: Team | None) -> None:
        """The team's organization exists and allows its models; its alias is free; its budget exists."""
        if team.organization_id and (
            before is None or team.organization_id != before.organization_id or team.models != before.models
        ):
            organization = await uow.organizations.get(team.organization_id)
            if organization is None:
                raise BadRequestError(
                    f"organization_id {team.organization_id!r} names no organization", param="organization_id"
                )
            if organization.models:
                for model in team.models:
                    if not model_in(model, organization.models, {}):
                        raise BadRequestError(
                            f"Organization {organization.organization_id} may not use model '{model}', "
                            "so neither may its teams",
                            param="models",
                        )
        if team.team_alias and (before is None or team.team_alias != before.team_alias):
            taken = await uow.teams.list({"team_alias": team.team_alias}, limit=2)
            if any(t.team_id != team.team_id for t in taken):
                raise ConflictError(
                    f"A team with the alias {team.team_alias!r} already exists", param="team_alias"
                )
        await require_budget(uow, team, before)


async def _get(uow: UnitOfWork, team_id: Any, *, param: str = "team_id") -> Team:
    return await fetch(uow.teams, team_id, "team", param=param)


def _listed(members: Any) -> list[Any]:
    if not isinstance(members, list):
        raise BadRequestError("members_with_roles must be a list of members", param="members_with_roles")
    return members


def _email(principal: Principal) -> str | None:
    return principal.user.user_email if principal.user is not None else None


def _find_member(team: Team, user_id: str | None, user_email: str | None) -> Member:
    if not user_id and not user_email:
        raise BadRequestError("Name the member to remove by user_id or user_email", param="user_id")
    for member in team.members:
        if (user_id and member.user_id == user_id) or (not user_id and member.user_email == user_email):
            return member
    who = user_id or user_email
    raise NotFoundError(
        f"User {who} is not a member of team {team.team_id}", param="user_id" if user_id else "user_email"
    )


def _require_admin_for_routes(principal: Principal, fields: Fields) -> None:
    """A team's pass-through routes bound every key in it: only an admin sets them (as LiteLLM decided)."""
    if PASSTHROUGH_ROUTES_FIELD in fields:
        require_admin(principal, f"set a team's {PASSTHROUGH_ROUTES_FIELD}")
