"""/organization/*: LiteLLM's organization management."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post, route
from litestar.di import NamedDependency

from adapters.http.controllers.management import render
from adapters.http.controllers.management.requests import answer, read_body, required_query
from adapters.http.controllers.management.schemas import (
    NewOrganization,
    OrganizationIds,
    OrganizationMemberAdd,
    OrganizationRef,
    UpdateOrganization,
)
from adapters.http.principal import principal_of
from application.management import Management


class OrganizationController(Controller):
    path = "/organization"

    @post("/new", status_code=200)
    async def new(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, NewOrganization)
        organization = await management.organizations.new(principal_of(request), body.fields())
        return answer(render.organization(organization))

    @route("/update", http_method=["PATCH", "POST"], status_code=200)
    async def update(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, UpdateOrganization)
        organization = await management.organizations.update(
            principal_of(request), body.organization_id, body.fields(drop={"organization_id"})
        )
        return answer(render.organization(organization))

    @route("/delete", http_method=["DELETE", "POST"], status_code=200)
    async def delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, OrganizationIds)
        deleted = await management.organizations.delete(principal_of(request), body.organization_ids)
        return answer([render.organization(o) for o in deleted])

    @get("/info")
    async def info(self, request: Request, management: NamedDependency[Management]) -> Response:
        organization_id = required_query(request, "organization_id")
        return answer(
            render.organization_view(
                await management.organizations.info(principal_of(request), organization_id)
            )
        )

    @post("/info", status_code=200)
    async def info_by_body(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, OrganizationRef)
        view = await management.organizations.info(principal_of(request), body.organization_id)
        return answer(render.organization_view(view))

    @get("/list")
    async def list_organizations(self, request: Request, management: NamedDependency[Management]) -> Response:
        views = await management.organizations.list(principal_of(request))
        return answer([render.organization_view(v) for v in views])

    @post("/member_add", status_code=200)
    async def member_add(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, OrganizationMemberAdd)
        joined = await management.organizations.member_add(
            principal_of(request), body.organization_id, body.members()
        )
        return answer(render.organization_members_added(joined))
