"""Databricks Model Serving: the OpenAI adapter with Databricks' URLs and authentication.

A workspace's serving endpoints speak OpenAI's chat completions, completions and embeddings at
`{workspace}/serving-endpoints/{chat/completions,completions,embeddings}` with the endpoint's name as
`model` (docs.databricks.com/aws/en/machine-learning/model-serving/score-foundation-models, "OpenAI
client"). `api_base` is `https://<workspace>/serving-endpoints` as LiteLLM takes it; a bare workspace URL
gets the segment added. Replies and errors are OpenAI's format (Databricks' `{"error_code", "message"}`
bodies read by the shared table).

Authentication, as LiteLLM's: a workspace token (`api_key`, DATABRICKS_API_KEY or DATABRICKS_TOKEN) as a
bearer token; else OAuth machine-to-machine, `client_id` and `client_secret` (DATABRICKS_CLIENT_ID /
DATABRICKS_CLIENT_SECRET) exchanged at `{workspace}/oidc/v1/token` for an all-apis token
(docs.databricks.com/aws/en/dev-tools/auth/oauth-m2m, "Manually generate a workspace-level access
token"), cached until shortly before it expires.
"""

from __future__ import annotations

import base64
import functools
import urllib.parse
from typing import ClassVar

import httpx

from adapters.llm.oauth_tokens import TokenCache, exchange_form
from adapters.llm.openai.client import OpenAIProvider
from domain.deployments import Deployment
from domain.errors import AuthenticationError, BadRequestError

SERVING = "/serving-endpoints"


class DatabricksProvider(OpenAIProvider):
    name: ClassVar[str] = "databricks"
    supports_moderation: ClassVar[bool] = False
    supports_rerank: ClassVar[bool] = False
    supports_images: ClassVar[bool] = False
    supports_transcription: ClassVar[bool] = False
    supports_speech: ClassVar[bool] = False

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._tokens = TokenCache()

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        if not deployment.api_base:
            raise BadRequestError(
                "a Databricks deployment needs api_base (https://<workspace>/serving-endpoints)"
            )
        return _serving_url(deployment.api_base, path)

    async def _headers(self, deployment: Deployment) -> dict[str, str]:
        credentials = deployment.credentials
        if credentials.api_key is not None and credentials.api_key.value:
            token = credentials.api_key.value
        else:
            token = await self._oauth_token(deployment)
        return {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    async def _oauth_token(self, deployment: Deployment) -> str:
        extra = deployment.credentials.extra
        client_id, secret = extra.get("client_id"), extra.get("client_secret")
        if not client_id or not secret:
            raise AuthenticationError(
                "no Databricks credentials: set api_key (DATABRICKS_API_KEY) or client_id and "
                "client_secret (DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET) for OAuth M2M"
            )
        token_url = workspace(deployment.api_base or "") + "/oidc/v1/token"
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")

        async def exchange() -> tuple[str, float]:
            return await exchange_form(
                self._client, token_url, {"grant_type": "client_credentials", "scope": "all-apis"},
                issuer="Databricks OAuth", timeout=deployment.limits.timeout,
                headers={"Authorization": f"Basic {basic}"},
            )  # fmt: skip

        return await self._tokens.token((token_url, str(client_id), str(secret)), exchange)


def workspace(api_base: str) -> str:
    """The workspace URL (scheme and host) of an api_base."""
    parts = urllib.parse.urlsplit(api_base)
    return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=1024)
def _serving_url(api_base: str, path: str) -> httpx.URL:
    base = api_base.rstrip("/")
    if not base.endswith(SERVING):
        base += SERVING
    return httpx.URL(base + path)
