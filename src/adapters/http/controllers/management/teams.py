"""/team/*: LiteLLM's team management."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.controllers.management import render
from adapters.http.controllers.management.requests import answer, query, read_body, required_query
from adapters.http.controllers.management.schemas import (
    NewTeam,
    TeamIds,
    TeamMemberAdd,
    TeamMemberDelete,
    TeamRef,
    UpdateTeam,
)
from adapters.http.principal import principal_of
from application.management import Management


class TeamController(Controller):
    path = "/team"

    @post("/new", status_code=200)
    async def new(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, NewTeam)
        fields = body.fields()
        if body.members_with_roles is not None:
            fields["members_with_roles"] = [m.model_dump(exclude_none=True) for m in body.members_with_roles]
        return answer(render.team(await management.teams.new(principal_of(request), fields)))

    @post("/update", status_code=200)
    async def update(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, UpdateTeam)
        team = await management.teams.update(
            principal_of(request), body.team_id, body.fields(drop={"team_id"})
        )
        return answer(render.team_update(team))

    @post("/delete", status_code=200)
    async def delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, TeamIds)
        return answer({"deleted_teams": await management.teams.delete(principal_of(request), body.team_ids)})

    @get("/info")
    async def info(self, request: Request, management: NamedDependency[Management]) -> Response:
        view = await management.teams.info(principal_of(request), required_query(request, "team_id"))
        return answer(render.team_info(view))

    @get("/list")
    async def list_teams(self, request: Request, management: NamedDependency[Management]) -> Response:
        teams = await management.teams.list(
            principal_of(request),
            user_id=query(request, "user_id"),
            organization_id=query(request, "organization_id"),
        )
        return answer([render.team(t) for t in teams])

    @post("/member_add", status_code=200)
    async def member_add(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, TeamMemberAdd)
        joined = await management.teams.member_add(principal_of(request), body.team_id, body.members())
        return answer(render.team_members_added(joined))

    @post("/member_delete", status_code=200)
    async def member_delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, TeamMemberDelete)
        team = await management.teams.member_delete(
            principal_of(request), body.team_id, user_id=body.user_id, user_email=body.user_email
        )
        return answer(render.team(team))

    @post("/block", status_code=200)
    async def block(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, TeamRef)
        return answer(render.team(await management.teams.block(principal_of(request), body.team_id, True)))

    @post("/unblock", status_code=200)
    async def unblock(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, TeamRef)
        return answer(render.team(await management.teams.block(principal_of(request), body.team_id, False)))
