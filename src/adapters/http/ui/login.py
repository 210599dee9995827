"""GET/POST /ui/login and POST /ui/logout: a session from the master key or a virtual key, resolved by
the Gatekeeper exactly as an API call's key is, or from a user's email and console password.

The login form has a CSRF token of its own, held by a short-lived signed cookie until a session
exists, so another site cannot sign a visitor in as someone else. Failed attempts are counted per
client address (`application.sign_in_throttle`); over the limit, every attempt is refused for the rest
of the minute, right ones included."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency

from adapters.http.ui.forms import form_text
from adapters.http.ui.pages import (
    CSRF_FIELD,
    PREFIX,
    CsrfRefused,
    Visit,
    go_to,
    render,
    set_cookie,
    with_session,
)
from adapters.http.ui.session import COOKIE, PRE_SESSION_LIFETIME, Session, SessionKind, SessionSigner
from adapters.http.ui.sso_settings import SsoSettings
from application.access import Gatekeeper, hash_key
from application.management import Management
from domain.access import Via
from domain.errors import RateLimitError, SwitchyardError

HOME = f"{PREFIX}/models"
FORM_COOKIE = "switchyard_console_login"
"""The pre-session cookie: the CSRF token the login forms carry (and the onboarding form's)."""
WRONG_PASSWORD = "Wrong email or password."
"""The same for an unknown email: the form tells nobody which addresses have an account."""


class SignInRefused(Exception):
    """A sign-in attempt that failed, with what the login page says about it."""

    def __init__(self, message: str, form: str, status: int = 401) -> None:
        super().__init__(message)
        self.message = message
        self.form = form
        """Which form the message belongs beside: "key" or "password"."""
        self.status = status


def form_page(
    request: Request,
    console: SessionSigner,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
) -> Response:
    """A page whose form is posted before any session exists (login, onboarding), with a fresh CSRF
    token in the form and in the pre-session cookie."""
    token = secrets.token_urlsafe(32)
    response = render(request, template, {**context, "form_token": token}, status=status)
    sealed = console.seal({"c": token}, time.time() + PRE_SESSION_LIFETIME)
    set_cookie(response, request, FORM_COOKIE, sealed, PRE_SESSION_LIFETIME)
    return response


def check_form_token(request: Request, console: SessionSigner, form: FormMultiDict) -> None:
    """CsrfRefused unless the form carries the token its pre-session cookie holds."""
    sealed = console.unseal(request.cookies.get(FORM_COOKIE), time.time())
    presented = form.get(CSRF_FIELD)
    if sealed is None or not isinstance(presented, str):
        raise CsrfRefused()
    if not secrets.compare_digest(presented.encode(), str(sealed["c"]).encode()):
        raise CsrfRefused()


def signed_in(request: Request, console: SessionSigner, session: Session) -> Response:
    """The browser sent home with its new session; the pre-session cookie is spent."""
    response = with_session(go_to(HOME), request, console, session)
    response.delete_cookie(FORM_COOKIE, path=PREFIX)
    return response


def client_address(request: Request) -> str:
    """Where an attempt comes from: the connection's peer (a forwarded header could be forged)."""
    return request.client.host if request.client is not None else "unknown"


class LoginController(Controller):
    path = PREFIX

    @get("/")
    async def home(self) -> Response:
        return go_to(HOME)

    @get("/login")
    async def page(
        self,
        request: Request,
        console: NamedDependency[SessionSigner],
        sso: NamedDependency[SsoSettings | None],
    ) -> Response:
        return _login_page(request, console, sso)

    @post("/login", status_code=303)
    async def sign_in(
        self,
        request: Request,
        gatekeeper: NamedDependency[Gatekeeper],
        management: NamedDependency[Management],
        console: NamedDependency[SessionSigner],
        sso: NamedDependency[SsoSettings | None],
    ) -> Response:
        form = await request.form()
        check_form_token(request, console, form)
        try:
            attempt = await gatekeeper.sign_ins.attempt(client_address(request))
        except RateLimitError as error:
            refused = SignInRefused(error.message, "password" if "email" in form else "key", 429)
            return _login_page(request, console, sso, refused)
        try:
            session = await _session_for(form, gatekeeper, management, console)
        except SignInRefused as refused:
            await attempt.ended(failed=True)
            return _login_page(request, console, sso, refused)
        await attempt.ended(failed=False)
        return signed_in(request, console, session)

    @post("/logout", status_code=303)
    async def sign_out(self, visit: NamedDependency[Visit]) -> Response:
        """Needs `visit` for its CSRF check: another site cannot sign a visitor out."""
        response = go_to(f"{PREFIX}/login")
        response.delete_cookie(COOKIE, path=PREFIX)
        return response


def _login_page(
    request: Request,
    console: SessionSigner,
    sso: SsoSettings | None,
    refused: SignInRefused | None = None,
) -> Response:
    context = {
        "error": refused.message if refused else None,
        "error_form": refused.form if refused else None,
        "sso": sso is not None,
    }
    return form_page(request, console, "login.html", context, refused.status if refused else 200)


async def _session_for(
    form: FormMultiDict, gatekeeper: Gatekeeper, management: Management, console: SessionSigner
) -> Session:
    """The session the submitted form earns, or SignInRefused saying why not."""
    if "email" in form:
        return await _password_session(form, gatekeeper, management, console)
    secret = form_text(form, "key")
    if not secret:
        raise SignInRefused("Enter the master key or a virtual key.", "key", 400)
    try:
        principal = await gatekeeper.authenticate(secret, f"{PREFIX}/login")
    except SwitchyardError as error:
        raise SignInRefused(error.message, "key") from None
    if principal.via is Via.MASTER_KEY:
        return console.issue(SessionKind.MASTER, "", time.time())
    if principal.key is None:
        raise SignInRefused("Sign in with the master key or a virtual key.", "key")
    return console.issue(SessionKind.KEY, hash_key(secret), time.time())


async def _password_session(
    form: FormMultiDict, gatekeeper: Gatekeeper, management: Management, console: SessionSigner
) -> Session:
    email = form_text(form, "email")
    password = str(form.get("password") or "")
    user = await management.users.signed_in(email, password)
    if user is None:
        raise SignInRefused(WRONG_PASSWORD, "password")
    return await user_session(user.user_id, gatekeeper, console)


async def user_session(user_id: str, gatekeeper: Gatekeeper, console: SessionSigner) -> Session:
    """A USER session for `user_id`, refused (SignInRefused) when the user is blocked."""
    try:
        await gatekeeper.console_user(user_id)
    except SwitchyardError as error:
        raise SignInRefused(error.message, "password") from None
    return console.issue(SessionKind.USER, user_id, time.time())
