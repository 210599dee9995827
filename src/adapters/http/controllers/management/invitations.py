"""/invitation/*: LiteLLM's invitation links, which let a user set a console password once."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.controllers.management import render
from adapters.http.controllers.management.requests import answer, query, read_body
from adapters.http.controllers.management.schemas import InvitationRef, NewInvitation
from adapters.http.principal import principal_of
from application.management import Management
from domain.identity import Invitation

ONBOARDING = "/ui/onboarding"
"""The console page a link opens (adapters.http.ui.onboarding)."""


def _with_link(request: Request, invitation: Invitation) -> dict[str, object]:
    """The record, and the link to hand the user (LiteLLM's UI builds it; the API gives it here)."""
    base = str(request.base_url).rstrip("/")
    return {
        **render.invitation(invitation),
        "invitation_link": f"{base}{ONBOARDING}?invitation_id={invitation.id}",
    }


class InvitationController(Controller):
    path = "/invitation"

    @post("/new", status_code=200)
    async def new(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, NewInvitation)
        invitation = await management.invitations.new(principal_of(request), body.user_id)
        return answer(_with_link(request, invitation))

    @get("/info")
    async def info(self, request: Request, management: NamedDependency[Management]) -> Response:
        invitation = await management.invitations.info(principal_of(request), query(request, "invitation_id"))
        return answer(_with_link(request, invitation))

    @post("/delete", status_code=200)
    async def delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, InvitationRef)
        invitation = await management.invitations.delete(principal_of(request), body.invitation_id)
        return answer(render.invitation(invitation))
