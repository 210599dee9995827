"""/customer/* (and LiteLLM's older /end_user/* names): end users, the `user` of a request."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.controllers.management import render
from adapters.http.controllers.management.requests import answer, read_body, required_query
from adapters.http.controllers.management.schemas import Customer, CustomerIds
from adapters.http.principal import principal_of
from application.management import Management


def _paths(action: str) -> list[str]:
    return [f"/customer/{action}", f"/end_user/{action}"]


class CustomerController(Controller):
    @post(_paths("new"), status_code=200)
    async def new(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, Customer)
        return answer(render.end_user(await management.end_users.new(principal_of(request), body.fields())))

    @post(_paths("update"), status_code=200)
    async def update(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, Customer)
        end_user = await management.end_users.update(
            principal_of(request), body.user_id, body.fields(drop={"user_id"})
        )
        return answer(render.end_user(end_user))

    @post(_paths("delete"), status_code=200)
    async def delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, CustomerIds)
        deleted = await management.end_users.delete(principal_of(request), body.user_ids)
        return answer(
            {
                "deleted_customers": len(deleted),
                "message": f"Successfully deleted customers with ids: {deleted}",
            }
        )

    @get(_paths("info"))
    async def info(self, request: Request, management: NamedDependency[Management]) -> Response:
        end_user_id = required_query(request, "end_user_id")
        return answer(render.end_user(await management.end_users.info(principal_of(request), end_user_id)))

    @get(_paths("list"))
    async def list_customers(self, request: Request, management: NamedDependency[Management]) -> Response:
        return answer([render.end_user(e) for e in await management.end_users.list(principal_of(request))])

    @post(_paths("block"), status_code=200)
    async def block(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, CustomerIds)
        blocked = await management.end_users.block(principal_of(request), body.user_ids, True)
        return answer({"blocked_users": [render.end_user(e) for e in blocked]})

    @post(_paths("unblock"), status_code=200)
    async def unblock(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, CustomerIds)
        unblocked = await management.end_users.block(principal_of(request), body.user_ids, False)
        return answer({"unblocked_users": [render.end_user(e) for e in unblocked]})
