"""The Organizations page (/ui/organizations): the organizations /organization/list shows the visitor, one
organization's detail as /organization/info shows it (members and roles, teams, budget and spend, limits),
and changes through the use cases behind /organization/new, /organization/update, /organization/delete
and /organization/member_add."""

from __future__ import annotations

from typing import Any

from litestar import Request

from adapters.http.ui.directory import MemberPages, RecordForm
from adapters.http.ui.pages import PREFIX, Visit
from application.management import Management
from domain.identity import Organization, Role

_MEMBER_ROLES = [(r.value, r.value) for r in (Role.INTERNAL_USER, Role.INTERNAL_USER_VIEWER, Role.ORG_ADMIN)]
"""The roles /organization/member_add grants."""


class OrganizationsPage(MemberPages):
    path = f"{PREFIX}/organizations"
    template = "organizations"
    form = RecordForm(texts=("organization_alias",), lists=("models",))

    async def listing(self, request: Request, visit: Visit, management: Management) -> dict[str, Any]:
        return {"views": await management.organizations.list(visit.principal)}

    async def create(self, visit: Visit, management: Management, fields: dict[str, Any]) -> str:
        return (await management.organizations.new(visit.principal, fields)).organization_id

    async def read(
        self, visit: Visit, management: Management, record_id: str
    ) -> tuple[Organization, dict[str, Any]]:
        view = await management.organizations.info(visit.principal, record_id)
        return view.organization, {"view": view, "member_roles": _MEMBER_ROLES}

    async def change(
        self, visit: Visit, management: Management, record_id: str, fields: dict[str, Any]
    ) -> None:
        await management.organizations.update(visit.principal, record_id, fields)

    async def remove(self, visit: Visit, management: Management, record_id: str) -> None:
        await management.organizations.delete(visit.principal, [record_id])

    async def add_member(
        self, visit: Visit, management: Management, record_id: str, member: dict[str, str]
    ) -> None:
        await management.organizations.member_add(visit.principal, record_id, [member])
