"""Organizations: the top of the hierarchy, holding teams and users."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from application.management.authority import (
    check_manage_organization_members,
    may_read_organization,
    refuse,
    require_admin,
)
from application.management.fields import (
    TERM_FIELDS,
    Convert,
    Fields,
    flag,
    mapping,
    names,
    required_text,
    text,
)
from application.management.service import ManagementService, fetch, new_id, reach_of, require_budget
from application.management.teams import Joined
from domain.access import Principal
from domain.errors import BadRequestError, ConflictError
from domain.frozen import frozen
from domain.identity import Member, MemberRole, Organization, Role, Team, User
from ports.unit_of_work import UnitOfWork

ORGANIZATION_FIELDS: dict[str, Convert] = {
    "organization_alias": text,
    "models": names,
    **TERM_FIELDS,
    "blocked": flag,
    "metadata": mapping,
    "tags": names,
}

_MEMBER_ROLES = {
    Role.ORG_ADMIN: MemberRole.ADMIN,
    Role.INTERNAL_USER: MemberRole.USER,
    Role.INTERNAL_USER_VIEWER: MemberRole.USER,
}
"""The roles a member may hold in an organization (LiteLLM's), and what each is as a membership."""


@frozen
class OrganizationView:
    organization: Organization
    teams: tuple[Team, ...]


class Organizations(ManagementService):
    async def new(self, principal: Principal, fields: Fields) -> Organization:
        require_admin(principal, "create organizations")
        wanted = dict(fields)
        organization_id = text(wanted.pop("organization_id", None), "organization_id") or new_id()
        required_text(wanted.get("organization_alias"), "organization_alias")
        async with self._uow() as uow:
            if await uow.organizations.get(organization_id) is not None:
                raise ConflictError(f"Organization {organization_id} already exists", param="organization_id")
            organization = self.made(Organization, principal, organization_id=organization_id)
            organization = self.assigned(organization, wanted, ORGANIZATION_FIELDS)
            await require_budget(uow, organization)
            await uow.organizations.add(organization)
            await self.audit(uow, principal, "created", "organization", organization_id, after=organization)
            await self.commit(uow)
        return organization

    async def update(self, principal: Principal, organization_id: str, fields: Fields) -> Organization:
        require_admin(principal, "change organizations")
        async with self._uow() as uow:
            before = await _get(uow, organization_id)
            organization = self.assigned(before, fields, ORGANIZATION_FIELDS)
            await require_budget(uow, organization, before)
            organization = self.touched(organization, principal)
            await uow.organizations.update(organization)
            await self.audit(
                uow, principal, "updated", "organization", organization_id, before=before, after=organization
            )
            await self.commit(uow)
        return organization

    async def delete(self, principal: Principal, organization_ids: Sequence[str]) -> list[Organization]:
        """Deletes every named organization or none; one that still holds teams or keys is refused, and
        its users leave it."""
        require_admin(principal, "delete organizations")
        if not organization_ids:
            raise BadRequestError(
                "organization_ids must name at least one organization", param="organization_ids"
            )
        async with self._uow() as uow:
            found = [
                await _get(uow, oid, param="organization_ids") for oid in dict.fromkeys(organization_ids)
            ]
            for organization in found:
                oid = organization.organization_id
                teams = await uow.teams.count({"organization_id": oid})
                keys = await uow.keys.count({"organization_id": oid})
                if teams or keys:
                    raise BadRequestError(
                        f"Organization {oid} still holds {teams} team(s) and {keys} key(s); "
                        "delete or move them first",
                        param="organization_ids",
                    )
                for user in await uow.users.list({"organization_id": oid}, limit=None):
                    left = self.touched(user, principal, organization_id=None)
                    await uow.users.update(left)
                    await self.audit(uow, principal, "updated", "user", user.user_id, before=user, after=left)
                await uow.organizations.delete(oid)
                await self.audit(uow, principal, "deleted", "organization", oid, before=organization)
            await self.commit(uow)
        return found

    async def info(self, principal: Principal, organization_id: str) -> OrganizationView:
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            organization = await _get(uow, organization_id)
            if not may_read_organization(reach, organization):
                refuse(
                    f"You may not read organization {organization_id}: you are not a member of it.",
                    param="organization_id",
                )
            teams = await uow.teams.list({"organization_id": organization_id}, limit=None)
        [organization] = await self.with_spend([organization])
        return OrganizationView(organization, tuple(await self.with_spend(teams)))

    async def list(self, principal: Principal) -> list[OrganizationView]:
        """Every organization for admins and viewers; the caller's own for others."""
        async with self._uow() as uow:
            if principal.reads_everything:
                found = await uow.organizations.list(limit=None)
            else:
                reach = await reach_of(uow, principal)
                found = [o for o in reach.organizations if may_read_organization(reach, o)]
            return [
                OrganizationView(
                    o, tuple(await uow.teams.list({"organization_id": o.organization_id}, limit=None))
                )
                for o in found
            ]

    async def member_add(self, principal: Principal, organization_id: str, members: Sequence[Any]) -> Joined:
        """Adds members (`{"role": "org_admin" | "internal_user" | "internal_user_viewer", "user_id",
        "user_email"}`); users named but missing are created in the organization with that role, and an
        org_admin member's own role rises to org_admin."""
        if not members:
            raise BadRequestError("member must name at least one user", param="member")
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, organization_id)
            check_manage_organization_members(reach, before)
            organization, users = before, []
            for spec in members:
                role = _org_role(spec)
                if role.rank > principal.role.rank:
                    refuse(
                        f"You cannot grant the role {role.value}: yours is {principal.role.value}.",
                        param="member.role",
                    )
                user = await self.member_user(
                    uow, principal, spec, organization_id=organization_id, role=role
                )
                if organization.member(user.user_id) is not None:
                    raise ConflictError(
                        f"User {user.user_id} is already a member of organization {organization_id}",
                        param="member",
                    )
                user = await self._settle(uow, principal, user, organization_id, role)
                member = Member(user.user_id, _MEMBER_ROLES[role], user.user_email)
                organization = dataclasses.replace(organization, members=(*organization.members, member))
                users.append(user)
            organization = self.touched(organization, principal)
            await uow.organizations.update(organization)
            await self.audit(
                uow,
                principal,
                "member_added",
                "organization",
                organization_id,
                before=before,
                after=organization,
            )
            await self.commit(uow)
        return Joined(organization, tuple(users))

    async def _settle(
        self, uow: UnitOfWork, principal: Principal, user: User, organization_id: str, role: Role
    ) -> User:
        """The member's user placed in the organization (when in none) with at least the role it joined as."""
        changes: dict[str, Any] = {}
        if user.organization_id is None:
            changes["organization_id"] = organization_id
        if role is Role.ORG_ADMIN and user.user_role.rank < role.rank:
            changes["user_role"] = role
        if not changes:
            return user
        settled = self.touched(user, principal, **changes)
        await uow.users.update(settled)
        await self.audit(uow, principal, "updated", "user", user.user_id, before=user, after=settled)
        return settled


def _org_role(spec: Any) -> Role:
    value = spec.get("role") if isinstance(spec, dict) else None
    try:
        role = Role(value if value is not None else Role.INTERNAL_USER)
    except ValueError:
        role = None
    if role not in _MEMBER_ROLES:
        allowed = ", ".join(r.value for r in _MEMBER_ROLES)
        raise BadRequestError(f"member.role must be one of {allowed}; got {value!r}", param="member.role")
    return role


async def _get(uow: UnitOfWork, organization_id: Any, *, param: str = "organization_id") -> Organization:
    return await fetch(uow.organizations, organization_id, "organization", param=param)
