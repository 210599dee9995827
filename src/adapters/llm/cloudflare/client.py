"""Cloudflare Workers AI: OpenAI's chat completions and embeddings under the account's `/ai/v1`
(developers.cloudflare.com/workers-ai/configuration/open-ai-compatibility), the API token as a bearer
token, the model the catalog's id (`@cf/meta/llama-3.1-8b-instruct`) as it stands.

LiteLLM's `cloudflare/` calls the native `/ai/run/{model}`; the compatible endpoint carries tools, usage
and streams in OpenAI's format instead, with the same account, token and model ids."""

from __future__ import annotations

from typing import ClassVar

import httpx

from adapters.llm.http_calls import joined_url
from adapters.llm.openai.chat_host import ChatCompletionsHost, account_id
from domain.deployments import Deployment

ACCOUNT_API_BASE = "https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1"


class CloudflareProvider(ChatCompletionsHost):
    """`api_base`, when set, is the whole compatible base (an AI Gateway's `.../workers-ai/v1`, say);
    otherwise the deployment's `account_id` (CLOUDFLARE_ACCOUNT_ID) names the account's."""

    name: ClassVar[str] = "cloudflare"

    def _url(self, deployment: Deployment, path: str) -> httpx.URL:
        if deployment.api_base:
            return joined_url(deployment.api_base, path)
        account = account_id(deployment, "CLOUDFLARE_ACCOUNT_ID")
        return joined_url(ACCOUNT_API_BASE.format(account_id=account), path)
