"""HashiCorp Vault's KV v2 engine, read as LiteLLM reads it (https://docs.litellm.ai/docs/secret_managers/hashicorp_vault):
`GET {HCP_VAULT_ADDR}/v1/{namespace}/{mount}/data/{prefix}/{NAME}`, the value under `data.data.key`
(https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version).

Login, in LiteLLM's order: AppRole (`POST /v1/auth/{mount}/login`,
https://developer.hashicorp.com/vault/api-docs/auth/approle#login-with-approle), a TLS client
certificate (`POST /v1/auth/cert/login`, https://developer.hashicorp.com/vault/api-docs/auth/cert),
else the static HCP_VAULT_TOKEN. The login namespace goes in the `X-Vault-Namespace` header, the secret
namespace in the read's path (each defaults to HCP_VAULT_NAMESPACE), as LiteLLM sends them."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from adapters.secrets.http import ClientFactory, HttpSecretStore, LeasedToken, read_json
from domain.errors import ConfigurationError
from ports.secret_store import SecretUnavailable

DEFAULT_ADDRESS = "http://127.0.0.1:8200"  # LiteLLM's default HCP_VAULT_ADDR


class VaultSecretStore(HttpSecretStore):
    system = "hashicorp_vault"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        address: str = DEFAULT_ADDRESS,
        token: str | None = None,
        login: tuple[str, dict[str, str]] | None = None,
        login_namespace: str | None = None,
        secret_namespace: str | None = None,
        mount: str = "secret",
        path_prefix: str | None = None,
    ) -> None:
        """`login`: (auth path, body) of an AppRole or certificate login; else `token` is used as is."""
        super().__init__(client)
        self._address = address.rstrip("/")
        self._login = login
        self._login_namespace = login_namespace
        parts = (secret_namespace, mount, "data", path_prefix)
        self._base = "/".join(part.strip("/") for part in parts if part)
        self._token = LeasedToken(self._log_in, self.system) if login else None
        self._static = token

    @classmethod
    def create(cls, settings: Mapping[str, Any], environ: Mapping[str, str], clients: ClientFactory) -> Self:
        role_id, secret_id = (
            environ.get("HCP_VAULT_APPROLE_ROLE_ID"),
            environ.get("HCP_VAULT_APPROLE_SECRET_ID"),
        )
        cert, key = environ.get("HCP_VAULT_CLIENT_CERT"), environ.get("HCP_VAULT_CLIENT_KEY")
        login: tuple[str, dict[str, str]] | None = None
        options: dict[str, Any] = {}
        if role_id and secret_id:
            mount = environ.get("HCP_VAULT_APPROLE_MOUNT_PATH") or "approle"
            login = (f"auth/{mount.strip('/')}/login", {"role_id": role_id, "secret_id": secret_id})
        elif cert and key:
            role = environ.get("HCP_VAULT_CERT_ROLE")
            login = ("auth/cert/login", {"name": role} if role else {})
            options["verify"] = _client_certificate(cert, key)
        elif not environ.get("HCP_VAULT_TOKEN"):
            raise ConfigurationError(
                "general_settings.key_management_system",
                "hashicorp_vault needs HCP_VAULT_TOKEN, or HCP_VAULT_APPROLE_ROLE_ID and "
                "HCP_VAULT_APPROLE_SECRET_ID, or HCP_VAULT_CLIENT_CERT and HCP_VAULT_CLIENT_KEY",
            )
        namespace = environ.get("HCP_VAULT_NAMESPACE")
        return cls(
            clients(**options),
            address=environ.get("HCP_VAULT_ADDR") or DEFAULT_ADDRESS,
            token=environ.get("HCP_VAULT_TOKEN"),
            login=login,
            login_namespace=environ.get("HCP_VAULT_LOGIN_NAMESPACE") or namespace,
            secret_namespace=environ.get("HCP_VAULT_SECRET_NAMESPACE") or namespace,
            mount=environ.get("HCP_VAULT_MOUNT_NAME") or "secret",
            path_prefix=environ.get("HCP_VAULT_PATH_PREFIX"),
        )

    async def read(self, name: str) -> str:
        token = await self._current_token(name)
        url = f"{self._address}/v1/{self._base}/{quote(name, safe='/')}"
        request = httpx.Request("GET", url, headers={"X-Vault-Token": token})
        return await self._read_text(request, name, "data", "data", "key")  # where LiteLLM keeps it

    async def _current_token(self, name: str) -> str:
        return await self._token.get(name) if self._token is not None else self._static or ""

    async def _log_in(self) -> tuple[str, float]:
        assert self._login is not None
        path, body = self._login
        headers = {"X-Vault-Namespace": self._login_namespace} if self._login_namespace else {}
        request = httpx.Request("POST", f"{self._address}/v1/{path}", json=body, headers=headers)
        payload = await read_json(
            self._client, request, name=path, store=self.system, missing=lambda *_: False
        )
        auth = payload.get("auth") if isinstance(payload, dict) else None
        token = auth.get("client_token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise SecretUnavailable(path, self.system, "the login answered no client_token")
        return token, float(auth.get("lease_duration") or 0)  # type: ignore[union-attr]


def _client_certificate(cert: str, key: str) -> ssl.SSLContext:
    """TLS that presents the client certificate Vault's cert login checks (and verifies Vault's)."""
    context = ssl.create_default_context()
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            "HCP_VAULT_CLIENT_CERT", f"cannot load the client certificate: {exc}"
        ) from None
    return context
