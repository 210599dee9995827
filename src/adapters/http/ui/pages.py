"""What every console page stands on: the signed-in visitor, the CSRF check, the navigation the role
decides, rendering a template into an HTML response, forms (a POST through its use case, a GET filter
form over figures) and money as people read it.

Jinja2 is imported and its engine built on the first rendered page, never at startup: a gateway whose
operators never open the console pays nothing for it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.response import Redirect

from adapters.http.ui.session import COOKIE, LIFETIME, Session, SessionKind, SessionSigner
from application.access import Gatekeeper
from domain.access import MASTER, Principal
from domain.errors import BadRequestError, SwitchyardError
from domain.identity import Role

if TYPE_CHECKING:
    from litestar.plugins.jinja import JinjaTemplateEngine

HTML = "text/html"  # Litestar adds "; charset=utf-8" to every text/* type
PREFIX = "/ui"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_MICRO = Decimal("0.000001")


@dataclasses.dataclass(frozen=True, slots=True)
class NavItem:
    title: str
    path: str
    shown_to: Callable[[Principal], bool]


def _everyone(_: Principal) -> bool:
    return True


def _readers_of_everything(principal: Principal) -> bool:
    return principal.reads_everything


def _organization_admins(principal: Principal) -> bool:
    return principal.reads_everything or principal.role is Role.ORG_ADMIN


NAV = (
    NavItem("Models", f"{PREFIX}/models", _everyone),
    NavItem("Keys", f"{PREFIX}/keys", _everyone),
    NavItem("Teams", f"{PREFIX}/teams", _everyone),
    NavItem("Users", f"{PREFIX}/users", _readers_of_everything),
    NavItem("Organizations", f"{PREFIX}/organizations", _organization_admins),
    NavItem("Customers", f"{PREFIX}/customers", _readers_of_everything),
    NavItem("Spend", f"{PREFIX}/spend", _everyone),
    NavItem("Logs", f"{PREFIX}/logs", _everyone),
    NavItem("Playground", f"{PREFIX}/playground", _everyone),
)
"""Every page of the console; a page not built yet answers 404 until it is. Which ones a visitor sees
is a convenience: each page's use cases still decide what the visitor may read or change."""


class SignInRequired(Exception):
    """No valid session: the visitor is sent to the login page."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


@dataclasses.dataclass(frozen=True, slots=True)
class Visit:
    """The signed-in visitor of one request: who they are now (resolved again from the session on every
    request) and their session."""

    principal: Principal
    session: Session


async def resolve_visit(
    request: Request, gatekeeper: NamedDependency[Gatekeeper], console: NamedDependency[SessionSigner]
) -> Visit:
    """The `visit` dependency of every page but login: the session's caller, as the API would resolve
    them; a POST must carry the session's CSRF token."""
    session = console.load(request.cookies.get(COOKIE), time.time())
    if session is None:
        raise SignInRequired()
    try:
        principal = await _visitor(session, gatekeeper)
    except SwitchyardError:
        raise SignInRequired() from None
    visit = Visit(principal, session)
    request.state.visit = visit  # for the error pages, which keep the visitor's navigation
    if request.method == "POST":
        presented = request.headers.get(CSRF_HEADER) or (await request.form()).get(CSRF_FIELD)
        if not session.csrf_matches(presented):
            raise CsrfRefused()
    return visit


def visit_of(request: Request) -> Visit | None:
    """The visit a page's request resolved before it failed (None when it never got that far)."""
    found = getattr(request.state, "visit", None)
    return found if isinstance(found, Visit) else None


async def _visitor(session: Session, gatekeeper: Gatekeeper) -> Principal:
    if session.kind is SessionKind.MASTER:
        return MASTER
    if session.kind is SessionKind.USER:
        return await gatekeeper.console_user(session.subject)
    return await gatekeeper.key_holder(session.subject)


async def submit_form(
    request: Request,
    apply: Callable[[FormMultiDict], Awaitable[object]],
    *,
    then: str,
    again: Callable[[FormMultiDict, Mapping[str, str]], Awaitable[Response]],
) -> Response:
    """A form POST: `apply` passes the submitted fields to the use case; the browser then goes to
    `then` (or sees the page `apply` answers, for a result shown once such as a new key's secret),
    or on a BadRequestError sees the form `again` with what was typed and the error next to the field
    whose `name` is the error's `param` (e.g. `litellm_params.model`; "" for the whole form)."""
    form = await request.form()
    try:
        answered = await apply(form)
    except BadRequestError as error:
        return await again(form, {error.param or "": error.message})
    return answered if isinstance(answered, Response) else go_to(then)


def dollars(amount: Decimal | None) -> str:
    """Money for people: up to six decimals, trailing zeros dropped; "—" when there is no price."""
    if amount is None:
        return "—"
    if amount and abs(amount) < _MICRO:
        return "< $0.000001"
    return f"${amount.quantize(_MICRO).normalize():f}"


def query_values(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """A filter form's fields as submitted (GET), to show them again."""
    return {name: request.query_params.get(name, "").strip() for name in names}


async def filtered_page(
    request: Request,
    visit: Visit,
    template: str,
    values: Mapping[str, str],
    load: Callable[[], Awaitable[Mapping[str, Any]]],
) -> Response:
    """A page of figures behind a GET filter form: `load`'s context, or the form again with a use case's
    BadRequestError shown next to the field its `param` names."""
    try:
        context, errors, status = await load(), {}, 200
    except BadRequestError as error:
        context, errors, status = {}, {error.param or "": error.message}, 400
    return render(
        request, template, {**context, "values": values, "errors": errors}, visit=visit, status=status
    )


def page_links(path: str, page: int, pages: int, filters: Mapping[str, str | None]) -> dict[str, str]:
    """A paged list's previous and next pages' URLs (those that exist), keeping its filters."""
    kept = {name: value for name, value in filters.items() if value}
    neighbours = {"previous": page - 1, "next": page + 1}
    return {
        name: f"{path}?{urlencode({**kept, 'page': number})}"
        for name, number in neighbours.items()
        if 1 <= number <= pages
    }


def served_over_tls(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"


def with_session(response: Response, request: Request, console: SessionSigner, session: Session) -> Response:
    set_cookie(response, request, COOKIE, console.dump(session), LIFETIME)
    return response


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """A console cookie: for /ui only, out of scripts' reach, sent on top-level navigations from other
    sites (a provider's redirect back) but not on their forms, and only over TLS when served over it."""
    response.set_cookie(
        name,
        value,
        path=PREFIX,
        max_age=max_age,
        httponly=True,
        secure=served_over_tls(request),
        samesite="lax",
    )


def go_to(path: str) -> Redirect:
    """A redirect after a form (303: the browser follows it with GET)."""
    return Redirect(path, status_code=303)


@cache
def _engine() -> JinjaTemplateEngine:
    from litestar.plugins.jinja import JinjaTemplateEngine

    return JinjaTemplateEngine(directory=Path(str(files("adapters.http.ui").joinpath("templates"))))


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    visit: Visit | None = None,
    status: int = 200,
) -> Response:
    """A page: `template` with `context`, the navigation and the CSRF token of `visit`'s session."""
    principal = visit.principal if visit else None
    page = (
        _engine()
        .get_template(template)
        .render(
            **context,
            visitor=principal,
            nav=[item for item in NAV if principal is not None and item.shown_to(principal)],
            path=request.url.path,
            csrf_token=visit.session.csrf if visit else "",
            csrf_field=CSRF_FIELD,
        )
    )
    return Response(page, media_type=HTML, status_code=status)
