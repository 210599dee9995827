"""GET/POST /ui/login and POST /ui/logout: a session from the master key or a virtual key, resolved by
the Gatekeeper exactly as an API call's key is."""

from __future__ import annotations

import time

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.ui.pages import PREFIX, Visit, go_to, render, with_session
from adapters.http.ui.session import COOKIE, SessionKind, SessionSigner
from application.access import Gatekeeper, hash_key
from domain.access import Via
from domain.errors import SwitchyardError

_HOME = f"{PREFIX}/models"


def _login_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    return render(request, "login.html", {"error": error}, status=status)


class LoginController(Controller):
    path = PREFIX

    @get("/")
    async def home(self) -> Response:
        return go_to(_HOME)

    @get("/login")
    async def page(self, request: Request) -> Response:
        return _login_page(request)

    @post("/login", status_code=303)
    async def sign_in(
        self,
        request: Request,
        gatekeeper: NamedDependency[Gatekeeper],
        console: NamedDependency[SessionSigner],
    ) -> Response:
        secret = str((await request.form()).get("key") or "").strip()
        if not secret:
            return _login_page(request, "Enter the master key or a virtual key.", 400)
        try:
            principal = await gatekeeper.authenticate(secret, request.url.path)
        except SwitchyardError as error:
            return _login_page(request, error.message, 401)
        if principal.via is Via.MASTER_KEY:
            session = console.issue(SessionKind.MASTER, "", time.time())
        elif principal.key is not None:
            session = console.issue(SessionKind.KEY, hash_key(secret), time.time())
        else:
            return _login_page(request, "Sign in with the master key or a virtual key.", 401)
        return with_session(go_to(_HOME), request, console, session)

    @post("/logout", status_code=303)
    async def sign_out(self, visit: NamedDependency[Visit]) -> Response:
        """Needs `visit` for its CSRF check: another site cannot sign a visitor out."""
        response = go_to(f"{PREFIX}/login")
        response.delete_cookie(COOKIE, path=PREFIX)
        return response
