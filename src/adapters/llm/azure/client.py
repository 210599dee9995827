"""Azure OpenAI and Azure AI Foundry: the OpenAI adapter with Azure's URLs and authentication.

Azure OpenAI routes by deployment, `{api_base}/openai/deployments/{deployment}/chat/completions
?api-version=...` (the deployment is the upstream model id), or, with api_version `v1` (`latest`) or
`preview`, through the v1 API at `{api_base}/openai/v1/chat/completions`. Both take the key as an
`api-key` header, or a Microsoft Entra ID bearer token. The wire format, replies and errors are
OpenAI's (a content filter refusal is a 400 with code `content_filter`, mapped by the shared table).

The Responses API has no per-deployment route: it is `{api_base}/openai/v1/responses` (the v1 API, GA
since August 2025, which takes no api-version), or `{api_base}/openai/responses?api-version=...` with a
dated version from 2025-03-01-preview on (where it started, and LiteLLM's URL). A configured dated
version that old or newer is kept; none, or an older one (the dated chat default, 2024-10-21, has no
Responses API), goes to the v1 API.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from typing import ClassVar

import httpx

from adapters.llm.azure.entra import EntraTokens, uses_entra
from adapters.llm.openai.client import OpenAIProvider
from domain.deployments import Deployment
from domain.errors import BadRequestError

DEFAULT_API_VERSION = "2024-10-21"
"""The latest generally available data-plane inference version of the dated API."""
FOUNDRY_API_VERSION = "2024-05-01-preview"
"""What the Foundry models endpoint (`.../models`) requires when the config names none."""
_V1_VERSIONS = frozenset({"v1", "latest", "preview"})
_FIRST_RESPONSES_VERSION = "2025-03-01"
_DATED = re.compile(r"\d{4}-\d{2}-\d{2}")


class AzureOpenAIProvider(OpenAIProvider):
    name: ClassVar[str] = "azure"

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._tokens = EntraTokens(client)

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        if not deployment.api_base:
            raise BadRequestError("an Azure deployment needs api_base (https://<resource>.openai.azure.com)")
        configured = deployment.credentials.extra.get("api_version")
        if path == "/responses":
            return _responses_url(deployment.api_base, str(configured) if configured else None)
        version = str(configured or DEFAULT_API_VERSION)
        return _azure_url(deployment.api_base, deployment.upstream_model, path, version)

    async def _headers(self, deployment: Deployment) -> dict[str, str]:
        return await _azure_headers(self._tokens, deployment, key_header="api-key")


class AzureAIProvider(OpenAIProvider):
    """Azure AI Foundry models: OpenAI's chat completions at `{api_base}/chat/completions`."""

    name: ClassVar[str] = "azure_ai"

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._tokens = EntraTokens(client)

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        if not deployment.api_base:
            raise BadRequestError("an azure_ai deployment needs api_base (its Foundry endpoint)")
        version = deployment.credentials.extra.get("api_version")
        return _foundry_url(deployment.api_base, path, str(version) if version else None)

    async def _headers(self, deployment: Deployment) -> dict[str, str]:
        # A Foundry resource (*.services.ai.azure.com) takes the key as `api-key`; serverless endpoints
        # take it as a bearer token.
        host = urllib.parse.urlsplit(deployment.api_base or "").hostname or ""
        key_header = "api-key" if host.endswith(".services.ai.azure.com") else "Authorization"
        return await _azure_headers(self._tokens, deployment, key_header=key_header)


async def _azure_headers(tokens: EntraTokens, deployment: Deployment, *, key_header: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    credentials = deployment.credentials
    if credentials.api_key is not None and credentials.api_key.value:
        key = credentials.api_key.value
        headers[key_header] = f"Bearer {key}" if key_header == "Authorization" else key
    elif uses_entra(credentials.extra):
        token = await tokens.token(credentials.extra, deployment.limits.timeout)
        headers["Authorization"] = f"Bearer {token}"
    return headers


@functools.lru_cache(maxsize=1024)
def _azure_url(api_base: str, deployment: str, path: str, version: str) -> httpx.URL:
    base = api_base.rstrip("/")
    if base.endswith("/openai/v1"):
        base, version = base.removesuffix("/openai/v1"), version if version in _V1_VERSIONS else "v1"
    base = base.removesuffix("/openai")
    if version in _V1_VERSIONS:
        query = "?api-version=preview" if version == "preview" else ""
        return httpx.URL(f"{base}/openai/v1{path}{query}")
    name = urllib.parse.quote(deployment, safe="")
    return httpx.URL(f"{base}/openai/deployments/{name}{path}?api-version={urllib.parse.quote(version)}")


@functools.lru_cache(maxsize=1024)
def _responses_url(api_base: str, version: str | None) -> httpx.URL:
    base = api_base.rstrip("/")
    if (
        version is not None
        and _DATED.match(version)
        and version[:10] >= _FIRST_RESPONSES_VERSION
        and not base.endswith("/openai/v1")  # a base on the v1 API stays on it, as for chat
    ):
        base = base.removesuffix("/openai")
        return httpx.URL(f"{base}/openai/responses?api-version={urllib.parse.quote(version)}")
    return _azure_url(api_base, "", "/responses", version if version in _V1_VERSIONS else "v1")


@functools.lru_cache(maxsize=1024)
def _foundry_url(api_base: str, path: str, version: str | None) -> httpx.URL:
    base = api_base.rstrip("/")
    if not version and base.endswith("/models"):
        version = FOUNDRY_API_VERSION
    query = f"?api-version={urllib.parse.quote(version)}" if version else ""
    return httpx.URL(f"{base}{path}{query}")
