"""Snowflake Cortex REST API: chat on the Cortex Chat Completions API, `{account}/api/v2/cortex/v1/chat/
completions`, OpenAI's format for every Cortex model (docs.snowflake.com/en/user-guide/snowflake-cortex/
cortex-rest-api, and where LiteLLM's `snowflake/` sends chat); embeddings on `/api/v2/cortex/
inference:embed` (docs.snowflake.com/developer-guide/snowflake-rest-api/reference/cortex-embed).

Authentication as LiteLLM does it: the key is a key-pair JWT (SNOWFLAKE_JWT), or, written `pat/<token>`,
a programmatic access token; either goes as a bearer token with its kind in
`X-Snowflake-Authorization-Token-Type`."""

from __future__ import annotations

from typing import ClassVar

import httpx

from adapters.llm.http_calls import joined_url
from adapters.llm.openai.chat_host import ChatCompletionsHost, account_id
from adapters.llm.snowflake.embeddings import embed_body, read_embeddings
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse

ACCOUNT_API_BASE = "https://{account_id}.snowflakecomputing.com/api/v2"
_API_V2 = "/api/v2"
_PAT_PREFIX = "pat/"
_PATHS = {"/embeddings": "/cortex/inference:embed"}
"""Where a call goes under `/api/v2` when not under the Chat Completions API's `/cortex/v1`."""


class SnowflakeProvider(ChatCompletionsHost):
    """`api_base` is the account's URL (`https://<account>.snowflakecomputing.com`, `/api/v2` optional);
    without it the deployment's `account_id` (SNOWFLAKE_ACCOUNT_ID) names it."""

    name: ClassVar[str] = "snowflake"

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        payload = await self._post(deployment, "/embeddings", embed_body(request, deployment.upstream_model))
        return read_embeddings(payload, deployment.upstream_model)

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        return joined_url(_api_v2(deployment), _PATHS.get(path) or "/cortex/v1" + path)

    async def _headers(self, deployment: Deployment) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = deployment.credentials.api_key
        if key is not None and key.value:
            token, kind = key.value, "KEYPAIR_JWT"
            if token.startswith(_PAT_PREFIX):
                token, kind = token.removeprefix(_PAT_PREFIX), "PROGRAMMATIC_ACCESS_TOKEN"
            headers["Authorization"] = f"Bearer {token}"
            headers["X-Snowflake-Authorization-Token-Type"] = kind
        return headers


def _api_v2(deployment: Deployment) -> str:
    if deployment.api_base:
        base = deployment.api_base.rstrip("/")
        return base if base.endswith(_API_V2) else base + _API_V2
    account = account_id(deployment, "SNOWFLAKE_ACCOUNT_ID")
    return ACCOUNT_API_BASE.format(account_id=account)
