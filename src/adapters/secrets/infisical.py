"""Infisical, with LiteLLM's settings (INFISICAL_SITE_URL, INFISICAL_CLIENT_ID, INFISICAL_CLIENT_SECRET,
INFISICAL_PROJECT_ID, INFISICAL_ENVIRONMENT_SLUG default `dev`, INFISICAL_SECRET_PATH default `/`, or the
same names in lower case under key_management_settings): a machine identity's universal-auth login
(https://infisical.com/docs/api-reference/endpoints/universal-auth/login), then the raw secret read
(`GET /api/v3/secrets/raw/{NAME}`, https://infisical.com/docs/api-reference/endpoints/deprecated/secrets/read)
that Infisical's SDKs use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from adapters.secrets.http import ClientFactory, HttpSecretStore, LeasedToken, read_json
from domain.errors import ConfigurationError
from ports.secret_store import SecretUnavailable

SITE = "https://app.infisical.com"


class InfisicalSecretStore(HttpSecretStore):
    system = "infisical"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        project: str,
        environment: str = "dev",
        path: str = "/",
        site: str = SITE,
    ) -> None:
        super().__init__(client)
        self._identity = {"clientId": client_id, "clientSecret": client_secret}
        self._query = {
            "workspaceId": project,
            "environment": environment,
            "secretPath": path,
            "type": "shared",
        }
        self._site = site.rstrip("/")
        self._token = LeasedToken(self._log_in, self.system)

    @classmethod
    def create(cls, settings: Mapping[str, Any], environ: Mapping[str, str], clients: ClientFactory) -> Self:
        def setting(name: str) -> str | None:
            return settings.get(name.lower()) or environ.get(name)

        needed = ("INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET", "INFISICAL_PROJECT_ID")
        unset = [name for name in needed if not setting(name)]
        if unset:
            raise ConfigurationError(
                "general_settings.key_management_system", f"infisical needs {', '.join(unset)} set"
            )
        return cls(
            clients(),
            client_id=str(setting("INFISICAL_CLIENT_ID")),
            client_secret=str(setting("INFISICAL_CLIENT_SECRET")),
            project=str(setting("INFISICAL_PROJECT_ID")),
            environment=setting("INFISICAL_ENVIRONMENT_SLUG") or "dev",
            path=setting("INFISICAL_SECRET_PATH") or "/",
            site=setting("INFISICAL_SITE_URL") or SITE,
        )

    async def read(self, name: str) -> str:
        token = await self._token.get(name)
        request = httpx.Request(
            "GET",
            f"{self._site}/api/v3/secrets/raw/{quote(name, safe='')}",
            params=self._query,
            headers={"Authorization": f"Bearer {token}"},
        )
        return await self._read_text(request, name, "secret", "secretValue")

    async def _log_in(self) -> tuple[str, float]:
        request = httpx.Request("POST", f"{self._site}/api/v1/auth/universal-auth/login", json=self._identity)
        payload = await read_json(
            self._client, request, name="login", store=self.system, missing=lambda *_: False
        )
        token = payload.get("accessToken") if isinstance(payload, dict) else None
        if not isinstance(token, str):
            raise SecretUnavailable("login", self.system, "the login answered no accessToken")
        return token, float(payload.get("expiresIn") or 0)
