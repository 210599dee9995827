"""The admin console's router: every page, its assets and its error pages.

A page is a controller module in this package (its routes under /ui/<page>), a template under templates/ that
extends base.html, and an entry in pages.NAV. Pages take the `visit` dependency (the signed-in caller,
resolved again on every request; POSTs CSRF-checked) and call the use cases with `visit.principal`."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from litestar import Controller, Request, Response, Router, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from adapters.http.errors import error_body
from adapters.http.ui.customers import CustomersPage
from adapters.http.ui.keys import KeysPage
from adapters.http.ui.login import LoginController
from adapters.http.ui.logs import LogsPage
from adapters.http.ui.models import ModelsPage
from adapters.http.ui.onboarding import OnboardingController
from adapters.http.ui.organizations import OrganizationsPage
from adapters.http.ui.pages import (
    PREFIX,
    CsrfRefused,
    SignInRequired,
    Visit,
    go_to,
    render,
    resolve_visit,
    visit_of,
)
from adapters.http.ui.playground import PlaygroundPage
from adapters.http.ui.session import SessionSigner
from adapters.http.ui.spend import SpendPage
from adapters.http.ui.sso import SsoController
from adapters.http.ui.teams import TeamsPage
from adapters.http.ui.users import UsersPage
from domain.errors import SwitchyardError

_ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "htmx.min.js": "text/javascript; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
}
_CACHED = {"cache-control": "public, max-age=86400"}


@cache
def _asset(name: str) -> bytes:
    return files("adapters.http.ui").joinpath("static", name).read_bytes()


class AssetsController(Controller):
    path = f"{PREFIX}/static"

    @get("/{asset:str}")
    async def asset(self, asset: FromPath[str]) -> Response:
        if asset not in _ASSETS:
            raise NotFoundException()
        return Response(_asset(asset), media_type=_ASSETS[asset], headers=_CACHED)


@get(f"{PREFIX}/{{unknown:path}}")
async def unknown_page(request: Request, visit: NamedDependency[Visit]) -> Response:
    """Any other /ui address: a 404 page in the console's layout for a signed-in visitor (the app's
    JSON 404 would strand them), the sign-in page otherwise, as every page does."""
    message = f"There is no page at {request.url.path}."
    return render(
        request, "error.html", {"message": message, "title": "Page not found"}, visit=visit, status=404
    )


def _sign_in(request: Request, _: SignInRequired) -> Response:
    if request.headers.get("hx-request"):
        # htmx swaps a redirect's target into the page; this makes it load the login page instead.
        return Response(b"", status_code=200, headers={"hx-redirect": f"{PREFIX}/login"})
    return go_to(f"{PREFIX}/login")


def _refused_form(request: Request, _: CsrfRefused) -> Response:
    message = "This form has expired or did not come from this console; reload the page and try again."
    return render(request, "error.html", {"message": message}, visit=visit_of(request), status=403)


def _refused(request: Request, error: SwitchyardError) -> Response:
    """A use case's refusal (403 not allowed, 404 unknown, ...) as a page, with the API's status."""
    status, _ = error_body(error, request.url.path)
    return render(request, "error.html", {"message": error.message}, visit=visit_of(request), status=status)


def not_found_page(request: Request, error: NotFoundException) -> Response:
    """A 404 in the console's layout, for an unknown page and for any address below a real one."""
    return render(request, "error.html", {"message": error.detail}, visit=visit_of(request), status=404)


def console_router(console: SessionSigner) -> Router:
    """Every /ui route, signing sessions with `console`. Out of the OpenAPI document: these are pages,
    not API."""
    return Router(
        path="/",
        route_handlers=[
            AssetsController,
            LoginController,
            OnboardingController,
            SsoController,
            ModelsPage,
            KeysPage,
            TeamsPage,
            UsersPage,
            OrganizationsPage,
            CustomersPage,
            PlaygroundPage,
            SpendPage,
            LogsPage,
            unknown_page,
        ],
        dependencies={
            "console": Provide(lambda: console, use_cache=True, sync_to_thread=False),
            "visit": Provide(resolve_visit),
        },
        exception_handlers={
            SignInRequired: _sign_in,
            CsrfRefused: _refused_form,
            SwitchyardError: _refused,
            NotFoundException: not_found_page,
        },  # type: ignore[dict-item]
        include_in_schema=False,
    )
