"""The Teams page (/ui/teams): teams filtered as /team/list filters them, a team's detail as /team/info
shows it (members and roles, budget and spend, limits, the keys the visitor may see), and changes through
the use cases behind /team/new, /team/update, /team/delete, /team/block, /team/member_add and
/team/member_delete."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.http.ui.directory import BlockablePages, MemberPages, RecordForm, filters
from adapters.http.ui.forms import form_text
from adapters.http.ui.pages import PREFIX, Visit, go_to
from application.management import Management
from domain.identity import Team


class TeamsPage(BlockablePages, MemberPages):
    path = f"{PREFIX}/teams"
    template = "teams"
    form = RecordForm(texts=("team_alias", "organization_id"), lists=("models",))

    async def listing(self, request: Request, visit: Visit, management: Management) -> dict[str, Any]:
        given = filters(request, ("user_id", "organization_id"))
        return {"teams": await management.teams.list(visit.principal, **given), "filters": given}

    async def create(self, visit: Visit, management: Management, fields: dict[str, Any]) -> str:
        return (await management.teams.new(visit.principal, fields)).team_id

    async def read(self, visit: Visit, management: Management, record_id: str) -> tuple[Team, dict[str, Any]]:
        view = await management.teams.info(visit.principal, record_id)
        return view.team, {"view": view}

    async def change(
        self, visit: Visit, management: Management, record_id: str, fields: dict[str, Any]
    ) -> None:
        await management.teams.update(visit.principal, record_id, fields)

    async def remove(self, visit: Visit, management: Management, record_id: str) -> None:
        await management.teams.delete(visit.principal, [record_id])

    async def set_blocked(self, visit: Visit, management: Management, record_id: str, blocked: bool) -> None:
        await management.teams.block(visit.principal, record_id, blocked)

    async def add_member(
        self, visit: Visit, management: Management, record_id: str, member: dict[str, str]
    ) -> None:
        await management.teams.member_add(visit.principal, record_id, [member])

    @post("/{record_id:str}/members/delete", status_code=303)
    async def member_delete(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        record_id: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        user_id = form_text(await request.form(), "user_id")
        await management.teams.member_delete(visit.principal, record_id, user_id=user_id)
        return go_to(self.record_path(record_id))
