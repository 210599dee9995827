"""GET/POST /ui/onboarding?invitation_id=...: an invitation link's page (application.management.
invitations), where the invited user sets a console password and is signed in."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.ui.login import SignInRefused, check_form_token, form_page, signed_in, user_session
from adapters.http.ui.pages import PREFIX
from adapters.http.ui.session import SessionSigner
from application.access import Gatekeeper
from application.management import Management
from domain.errors import BadRequestError
from domain.identity import User

_MISMATCH = "The two passwords differ; type the same one twice."


def _page(
    request: Request, console: SessionSigner, invitation_id: str, user: User, error: str | None = None
) -> Response:
    context = {"invitation_id": invitation_id, "invitee": user.user_email or user.user_id, "error": error}
    return form_page(request, console, "onboarding.html", context, 400 if error else 200)


class OnboardingController(Controller):
    path = f"{PREFIX}/onboarding"

    @get("/")
    async def page(
        self,
        request: Request,
        management: NamedDependency[Management],
        console: NamedDependency[SessionSigner],
    ) -> Response:
        invitation_id = request.query_params.get("invitation_id") or ""
        return _page(request, console, invitation_id, await management.invitations.invited(invitation_id))

    @post("/", status_code=303)
    async def accept(
        self,
        request: Request,
        gatekeeper: NamedDependency[Gatekeeper],
        management: NamedDependency[Management],
        console: NamedDependency[SessionSigner],
    ) -> Response:
        form = await request.form()
        check_form_token(request, console, form)
        invitation_id = str(form.get("invitation_id") or "")
        password = str(form.get("password") or "")
        if password != form.get("password_confirm"):
            user = await management.invitations.invited(invitation_id)
            return _page(request, console, invitation_id, user, _MISMATCH)
        try:
            user = await management.invitations.accept(invitation_id, password)
            session = await user_session(user.user_id, gatekeeper, console)
        except (BadRequestError, SignInRefused) as error:
            user = await management.invitations.invited(invitation_id)
            return _page(request, console, invitation_id, user, error.message)
        return signed_in(request, console, session)
