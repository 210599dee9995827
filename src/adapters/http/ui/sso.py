"""GET /ui/sso/login and /ui/sso/callback: sign-in through any OpenID Connect provider, configured with
LiteLLM's GENERIC_* variables (docs: https://docs.litellm.ai/docs/proxy/admin_ui_sso, "Generic SSO
Provider"; names and defaults as LiteLLM's proxy/management_endpoints/ui_sso.py reads them).

The authorization-code flow with PKCE (RFC 7636, S256): the state and the code verifier wait in a
signed, short-lived cookie; the callback checks the state, exchanges the code at the token endpoint
(client_secret_basic, the OIDC default), reads the userinfo endpoint, and signs the user in, creating
them on their first visit. A role claim holding one of LiteLLM's role names sets their role."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from adapters.http.ui.login import SignInRefused, signed_in, user_session
from adapters.http.ui.pages import PREFIX, render, set_cookie
from adapters.http.ui.session import PRE_SESSION_LIFETIME, SessionSigner
from adapters.http.ui.sso_settings import SsoSettings
from application.access import Gatekeeper
from application.management import Management
from domain.errors import SwitchyardError
from domain.identity import Role

FLOW_COOKIE = "switchyard_console_sso"
_FAILED = "Single sign-on did not complete; try again, or sign in another way."


class SsoRefused(Exception):
    """The provider's answer did not sign anyone in."""


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _configured(sso: SsoSettings | None) -> SsoSettings:
    if sso is None:
        raise NotFoundException("Single sign-on is not configured.")
    return sso


class SsoController(Controller):
    path = f"{PREFIX}/sso"

    @get("/login")
    async def start(
        self,
        request: Request,
        console: NamedDependency[SessionSigner],
        sso: NamedDependency[SsoSettings | None],
    ) -> Response:
        settings = _configured(sso)
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": settings.client_id,
                "redirect_uri": settings.redirect_uri(request),
                "scope": settings.scope,
                "state": state,
                "code_challenge": _challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        response = Redirect(f"{settings.authorization_endpoint}?{query}", status_code=302)
        sealed = console.seal({"s": state, "v": verifier}, time.time() + PRE_SESSION_LIFETIME)
        set_cookie(response, request, FLOW_COOKIE, sealed, PRE_SESSION_LIFETIME)
        return response

    @get("/callback")
    async def finish(
        self,
        request: Request,
        gatekeeper: NamedDependency[Gatekeeper],
        management: NamedDependency[Management],
        console: NamedDependency[SessionSigner],
        sso: NamedDependency[SsoSettings | None],
    ) -> Response:
        settings = _configured(sso)
        flow = console.unseal(request.cookies.get(FLOW_COOKIE), time.time())
        code, state = request.query_params.get("code"), request.query_params.get("state")
        try:
            if flow is None or not code or not state or not secrets.compare_digest(state, str(flow["s"])):
                raise SsoRefused()
            claims = await _claims(settings, request, code, str(flow["v"]))
            user_id, email, role = _identity(settings, claims)
            user = await management.users.single_sign_on(user_id, email, role)
            session = await user_session(user.user_id, gatekeeper, console)
        except (SsoRefused, SignInRefused, SwitchyardError) as error:
            message = getattr(error, "message", None) or _FAILED
            response = render(request, "error.html", {"message": message}, status=401)
        else:
            response = signed_in(request, console, session)
        response.delete_cookie(FLOW_COOKIE, path=PREFIX)
        return response


async def _claims(settings: SsoSettings, request: Request, code: str, verifier: str) -> Mapping[str, Any]:
    """The userinfo claims the code earns; SsoRefused when the provider says no or answers nonsense."""
    import httpx

    async with httpx.AsyncClient(timeout=10.0) as client:  # a sign-in is rare: no pool kept for it
        try:
            token = await client.post(
                settings.token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": settings.redirect_uri(request),
                    "code_verifier": verifier,
                },
                auth=(settings.client_id, settings.client_secret),
                headers={"accept": "application/json"},
            )
            access = token.json().get("access_token") if token.is_success else None
            if not isinstance(access, str):
                raise SsoRefused()
            info = await client.get(settings.userinfo_endpoint, headers={"authorization": f"Bearer {access}"})
            claims = info.json() if info.is_success else None
        except (httpx.HTTPError, ValueError):
            raise SsoRefused() from None
    if not isinstance(claims, dict):
        raise SsoRefused()
    return claims


def _identity(settings: SsoSettings, claims: Mapping[str, Any]) -> tuple[str, str | None, Role | None]:
    """User id (the email when the id claim is missing, as LiteLLM falls back), email and role."""
    email = claims.get(settings.email_attribute)
    email = email if isinstance(email, str) and email else None
    user_id = claims.get(settings.user_id_attribute)
    user_id = str(user_id) if user_id not in (None, "") else email
    if not user_id:
        raise SsoRefused()
    named = claims.get(settings.role_attribute)
    role = Role(named) if isinstance(named, str) and named in Role.__members__.values() else None
    return user_id, email, role
