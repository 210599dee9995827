"""The Users page (/ui/users): users a page at a time, filtered as /user/list filters them; a user's detail
as /user/info shows it (teams, keys, budget and spend, limits); changes through the use cases behind
/user/new, /user/update and /user/delete."""

from __future__ import annotations

from typing import Any

from litestar import Request

from adapters.http.controllers.management.requests import query_int
from adapters.http.ui.directory import RecordForm, RecordPages, filters
from adapters.http.ui.pages import PREFIX, Visit
from application.management import Management
from domain.identity import Role, User

_ROLES = [(role.value, role.value) for role in Role]


class UsersPage(RecordPages):
    path = f"{PREFIX}/users"
    template = "users"
    form = RecordForm(
        texts=("user_email", "user_alias", "organization_id"),
        lists=("models",),
        choices=("user_role",),
        ids=("user_id",),
    )

    async def listing(self, request: Request, visit: Visit, management: Management) -> dict[str, Any]:
        given = filters(request, ("role", "organization_id"))
        found = await management.users.list(
            visit.principal,
            page=query_int(request, "page", 1),
            size=25,
            user_role=given.get("role"),
            organization_id=given.get("organization_id"),
        )
        return {"found": found, "filters": given, "roles": _ROLES, "new_role": Role.INTERNAL_USER.value}

    async def create(self, visit: Visit, management: Management, fields: dict[str, Any]) -> str:
        # The console makes keys on the Keys page, where the new secret is shown once.
        made = await management.users.new(visit.principal, {**fields, "auto_create_key": False})
        return made.user.user_id

    async def read(
        self, visit: Visit, management: Management, record_id: str
    ) -> tuple[User | None, dict[str, Any]]:
        view = await management.users.info(visit.principal, record_id)
        return view.user, {"view": view, "roles": _ROLES}

    async def change(
        self, visit: Visit, management: Management, record_id: str, fields: dict[str, Any]
    ) -> None:
        await management.users.update(visit.principal, fields, user_id=record_id)

    async def remove(self, visit: Visit, management: Management, record_id: str) -> None:
        await management.users.delete(visit.principal, [record_id])
