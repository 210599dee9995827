"""What single sign-on through OpenID Connect needs, read from LiteLLM's GENERIC_* variables (docs:
https://docs.litellm.ai/docs/proxy/admin_ui_sso, "Generic SSO Provider"; names and defaults as
LiteLLM's proxy/management_endpoints/ui_sso.py reads them). Apart from the controller so the composition
root can read it at startup without loading any page."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from domain.errors import ConfigurationError

if TYPE_CHECKING:
    from litestar import Request

CALLBACK = "/ui/sso/callback"
_REQUIRED = ("GENERIC_CLIENT_SECRET", "GENERIC_AUTHORIZATION_ENDPOINT", "GENERIC_TOKEN_ENDPOINT",
             "GENERIC_USERINFO_ENDPOINT")  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class SsoSettings:
    client_id: str
    client_secret: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    scope: str = "openid email profile"
    user_id_attribute: str = "preferred_username"
    email_attribute: str = "email"
    role_attribute: str = "role"
    base_url: str | None = None
    """PROXY_BASE_URL: the gateway's public address, for the redirect URI (else the request's own)."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> SsoSettings | None:
        """The settings GENERIC_CLIENT_ID turns on; a startup error naming the first variable missing."""
        if not environ.get("GENERIC_CLIENT_ID"):
            return None
        for name in _REQUIRED:
            if not environ.get(name):
                raise ConfigurationError(name, "single sign-on (GENERIC_CLIENT_ID is set) needs it")
        defaults = cls("", "", "", "", "")
        return cls(
            client_id=environ["GENERIC_CLIENT_ID"],
            client_secret=environ["GENERIC_CLIENT_SECRET"],
            authorization_endpoint=environ["GENERIC_AUTHORIZATION_ENDPOINT"],
            token_endpoint=environ["GENERIC_TOKEN_ENDPOINT"],
            userinfo_endpoint=environ["GENERIC_USERINFO_ENDPOINT"],
            scope=environ.get("GENERIC_SCOPE") or defaults.scope,
            user_id_attribute=environ.get("GENERIC_USER_ID_ATTRIBUTE") or defaults.user_id_attribute,
            email_attribute=environ.get("GENERIC_USER_EMAIL_ATTRIBUTE") or defaults.email_attribute,
            role_attribute=environ.get("GENERIC_USER_ROLE_ATTRIBUTE") or defaults.role_attribute,
            base_url=(environ.get("PROXY_BASE_URL") or "").rstrip("/") or None,
        )

    def redirect_uri(self, request: Request) -> str:
        return f"{self.base_url or str(request.base_url).rstrip('/')}{CALLBACK}"
