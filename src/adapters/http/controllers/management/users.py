"""/user/*: LiteLLM's user management."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.controllers.management import render
from adapters.http.controllers.management.requests import answer, query, query_int, query_list, read_body
from adapters.http.controllers.management.schemas import NewUser, UpdateUser, UserIds, UserTeam
from adapters.http.principal import principal_of
from application.management import Management


class UserController(Controller):
    path = "/user"

    @post("/new", status_code=200)
    async def new(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, NewUser)
        fields = body.fields()
        if body.teams is not None:
            fields["teams"] = [
                t.model_dump(include={"team_id", "user_role"}) if isinstance(t, UserTeam) else t
                for t in body.teams
            ]
        return answer(render.new_user(await management.users.new(principal_of(request), fields)))

    @post("/update", status_code=200)
    async def update(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, UpdateUser)
        fields = body.fields(drop={"user_id"} if body.user_id else {"user_id", "user_email"})
        user = await management.users.update(
            principal_of(request), fields, user_id=body.user_id, user_email=body.user_email
        )
        return answer({"user_id": user.user_id, "data": render.user(user)})

    @post("/delete", status_code=200)
    async def delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, UserIds)
        return answer({"deleted_users": await management.users.delete(principal_of(request), body.user_ids)})

    @get("/info")
    async def info(self, request: Request, management: NamedDependency[Management]) -> Response:
        view = await management.users.info(principal_of(request), query(request, "user_id"))
        return answer(render.user_info(view))

    @get("/list")
    async def list_users(self, request: Request, management: NamedDependency[Management]) -> Response:
        page = await management.users.list(
            principal_of(request),
            page=query_int(request, "page", 1),
            size=query_int(request, "page_size", 25),
            user_role=query(request, "role"),
            organization_id=query(request, "organization_id"),
            user_ids=query_list(request, "user_ids"),
        )
        return answer(render.user_page(page))
