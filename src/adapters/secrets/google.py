"""Google Secret Manager's access call over REST (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access):
`GET /v1/projects/{GOOGLE_SECRET_MANAGER_PROJECT_ID}/secrets/{NAME}/versions/latest:access`, the value
base64 in `payload.data`, as LiteLLM reads it. The OAuth token comes from the Vertex AI adapter's token
sources: GOOGLE_APPLICATION_CREDENTIALS (a service account key or gcloud's user credentials), else the
metadata server. GOOGLE_SECRET_MANAGER_ENDPOINT (Switchyard's own) points it elsewhere than
https://secretmanager.googleapis.com."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from adapters.llm.gemini.auth import CachedTokens, token_source
from adapters.secrets.http import ClientFactory, HttpSecretStore, unavailable
from domain.errors import ConfigurationError, SwitchyardError
from ports.secret_store import SecretUnavailable

ENDPOINT = "https://secretmanager.googleapis.com"


class GoogleSecretManagerStore(HttpSecretStore):
    system = "google_secret_manager"

    def __init__(
        self, client: httpx.AsyncClient, *, project: str, tokens: CachedTokens, endpoint: str = ENDPOINT
    ) -> None:
        super().__init__(client)
        self._project = project
        self._tokens = tokens
        self._endpoint = endpoint.rstrip("/")

    @classmethod
    def create(cls, settings: Mapping[str, Any], environ: Mapping[str, str], clients: ClientFactory) -> Self:
        project = environ.get("GOOGLE_SECRET_MANAGER_PROJECT_ID")
        if not project:
            raise ConfigurationError(
                "general_settings.key_management_system",
                "google_secret_manager needs GOOGLE_SECRET_MANAGER_PROJECT_ID set",
            )
        try:
            source = token_source(environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
        except SwitchyardError as exc:
            raise ConfigurationError("GOOGLE_APPLICATION_CREDENTIALS", str(exc)) from None
        endpoint = environ.get("GOOGLE_SECRET_MANAGER_ENDPOINT") or ENDPOINT
        return cls(clients(), project=project, tokens=CachedTokens(source), endpoint=endpoint)

    async def read(self, name: str) -> str:
        try:
            token = await self._tokens.token(self._client)
        except SwitchyardError as exc:
            raise unavailable(name, self.system, exc) from exc
        version = f"projects/{quote(self._project, safe='')}/secrets/{quote(name, safe='')}/versions/latest"
        request = httpx.Request(
            "GET", f"{self._endpoint}/v1/{version}:access", headers={"Authorization": f"Bearer {token}"}
        )
        encoded = await self._read_text(request, name, "payload", "data")
        try:
            return base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretUnavailable(name, self.system, "payload.data is not base64 UTF-8 text") from None
