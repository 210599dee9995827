"""The harness of the Azure OpenAI adapter: the OpenAI harness, with Azure's URLs, authentication,
stream prelude and error bodies."""

from __future__ import annotations

from typing import Any

from adapters.llm.azure import AzureOpenAIProvider
from domain.completions import Usage
from domain.deployments import Credentials, Secret
from tests.contract.harnesses.base import FIXTURES_ROOT, Failure, Reply
from tests.contract.harnesses.openai import OpenAIHarness

FIXTURES = FIXTURES_ROOT / "azure"
API_BASE = "https://switchyard-test.openai.azure.com"
RATE_LIMIT_HEADERS = {
    "retry-after": "7",
    "retry-after-ms": "7000",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-remaining-tokens": "0",
}


class AzureHarness(OpenAIHarness):
    adapter = AzureOpenAIProvider
    text = Reply(
        FIXTURES / "chat_stream.sse",
        FIXTURES / "chat_completion.json",
        Usage(prompt_tokens=19, completion_tokens=10),
    )
    # Azure's own error bodies where they differ from OpenAI's; the other failures answer as OpenAI does.
    failures = OpenAIHarness.failures | {
        "content_policy": Failure(400, FIXTURES / "errors/content_filter.json"),
        "context_window": Failure(400, FIXTURES / "errors/context_length_exceeded.json"),
        "unauthorized": Failure(401, FIXTURES / "errors/unauthorized.json"),
        "not_found": Failure(404, FIXTURES / "errors/deployment_not_found.json"),
        "rate_limited": Failure(429, FIXTURES / "errors/rate_limited.json", RATE_LIMIT_HEADERS),
    }
    retry_after = 7.0

    def settings(self) -> dict[str, Any]:
        return super().settings() | {
            "id": "azure-1",
            "provider": "azure",
            "upstream_model": "gpt-4o-deployment",
            "api_base": API_BASE,
            "credentials": Credentials(api_key=Secret("azure-key-123"), extra={"api_version": "2024-10-21"}),
        }


HARNESSES = {"azure": AzureHarness}
