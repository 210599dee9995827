"""The harness of the Azure OpenAI adapter: the OpenAI harness, with Azure's URLs, authentication,
stream prelude and error bodies."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.llm.azure import AzureOpenAIProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Credentials, Secret
from tests.contract.harnesses.base import FIXTURES_ROOT, REPLY, Scripted, chat_request
from tests.contract.harnesses.openai import OpenAIHarness

FIXTURES = FIXTURES_ROOT / "azure"
API_BASE = "https://switchyard-test.openai.azure.com"


class AzureHarness(OpenAIHarness):
    _AZURE_STATUS = {
        "content_policy": (400, "errors/content_filter.json"),
        "context_window": (400, "errors/context_length_exceeded.json"),
        "unauthorized": (401, "errors/unauthorized.json"),
        "not_found": (404, "errors/deployment_not_found.json"),
        "rate_limited": (429, "errors/rate_limited.json"),
    }
    _AZURE_RATE_LIMIT_HEADERS = {
        "retry-after": "7",
        "retry-after-ms": "7000",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-remaining-tokens": "0",
    }
    retry_after = 7.0

    def __init__(self, **deployment_changes: Any) -> None:
        settings: dict[str, Any] = {
            "id": "azure-1",
            "provider": "azure",
            "upstream_model": "gpt-4o-deployment",
            "api_base": API_BASE,
            "credentials": Credentials(api_key=Secret("azure-key-123"), extra={"api_version": "2024-10-21"}),
        }
        super().__init__(**(settings | deployment_changes))
        self.provider = AzureOpenAIProvider(self.client)

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "chat_stream.sse").read_bytes())
        else:
            self._answer(200, "chat_completion.json")
        request = chat_request(stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=Usage(prompt_tokens=19, completion_tokens=10))

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind not in self._AZURE_STATUS:
            return super().failure(kind, stream=stream)
        status, fixture = self._AZURE_STATUS[kind]
        self._answer(status, fixture, self._AZURE_RATE_LIMIT_HEADERS if kind == "rate_limited" else None)
        return chat_request(stream=stream, include_usage=stream)

    def _answer(self, status: int, fixture: str, headers: dict[str, str] | None = None) -> None:
        body = (FIXTURES / fixture).read_bytes()
        self.upstream.answer = lambda _: httpx.Response(
            status, content=body, headers={"content-type": "application/json", **(headers or {})}
        )


HARNESSES = {"azure": AzureHarness}
