"""Azure Key Vault's Get Secret (https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret):
`GET {AZURE_KEY_VAULT_URI}/secrets/{name}?api-version=7.4`, with a Microsoft Entra ID token for
`https://vault.azure.net` fetched with the client credentials LiteLLM's docs name (AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET, AZURE_TENANT_ID) by the Azure OpenAI adapter's token cache.

Key Vault names hold only letters, digits and dashes
(https://learn.microsoft.com/en-us/azure/key-vault/general/about-keys-secrets-certificates#objects-identifiers-and-versioning),
so `os.environ/AZURE_API_KEY` reads the secret `AZURE-API-KEY` (LiteLLM's docs write the dashed name;
both spellings reach the same secret)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from adapters.llm.azure.entra import EntraTokens
from adapters.secrets.http import TIMEOUT, ClientFactory, HttpSecretStore, unavailable
from domain.errors import ConfigurationError, SwitchyardError

API_VERSION = "7.4"
SCOPE = "https://vault.azure.net/.default"
_CREDENTIALS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")


def vault_name(name: str) -> str:
    return name.replace("_", "-")


class AzureKeyVaultStore(HttpSecretStore):
    system = "azure_key_vault"

    def __init__(self, client: httpx.AsyncClient, *, vault: str, credentials: Mapping[str, str]) -> None:
        """`credentials`: tenant_id, client_id, client_secret (and azure_authority_host) as EntraTokens
        takes them."""
        super().__init__(client)
        self._vault = vault.rstrip("/")
        self._credentials = {**credentials, "azure_scope": SCOPE}
        self._tokens = EntraTokens(client)

    @classmethod
    def create(cls, settings: Mapping[str, Any], environ: Mapping[str, str], clients: ClientFactory) -> Self:
        needed = ("AZURE_KEY_VAULT_URI", *_CREDENTIALS)
        unset = [name for name in needed if not environ.get(name)]
        if unset:
            raise ConfigurationError(
                "general_settings.key_management_system", f"azure_key_vault needs {', '.join(unset)} set"
            )
        credentials = {name.removeprefix("AZURE_").lower(): environ[name] for name in _CREDENTIALS}
        if environ.get("AZURE_AUTHORITY_HOST"):
            credentials["azure_authority_host"] = environ["AZURE_AUTHORITY_HOST"]
        return cls(clients(), vault=environ["AZURE_KEY_VAULT_URI"], credentials=credentials)

    async def read(self, name: str) -> str:
        try:
            token = await self._tokens.token(self._credentials, TIMEOUT.read or 10.0)
        except SwitchyardError as exc:
            raise unavailable(name, self.system, exc) from exc
        url = f"{self._vault}/secrets/{quote(vault_name(name), safe='')}"
        request = httpx.Request(
            "GET", url, params={"api-version": API_VERSION}, headers={"Authorization": f"Bearer {token}"}
        )
        return await self._read_text(request, name, "value")
