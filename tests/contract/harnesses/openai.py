"""The harness of the OpenAI adapter: an httpx.MockTransport upstream answering OpenAI's wire format."""

from __future__ import annotations

import json
from typing import Any

from adapters.llm.openai import OpenAIProvider
from domain.completions import Usage
from domain.deployments import Credentials, Limits, Secret
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    Failure,
    HttpHarness,
    Reply,
    ScriptedEmbeddings,
    embedding_request,
)

FIXTURES = FIXTURES_ROOT / "openai"
RATE_LIMIT_HEADERS = {
    "retry-after": "7",
    "x-ratelimit-limit-tokens": "200000",
    "x-ratelimit-remaining-tokens": "147",
    "x-ratelimit-reset-requests": "120ms",
    "x-ratelimit-reset-tokens": "81ms",
}


class OpenAIHarness(HttpHarness):
    adapter = OpenAIProvider
    fixtures = FIXTURES
    text = Reply("chat_stream.sse", "chat_completion.json", Usage(prompt_tokens=19, completion_tokens=10))
    tool = Reply("chat_stream_tool_calls.sse", "chat_completion_tool_calls.json", Usage(82, 17))
    failures = {
        "bad_request": Failure(400, "errors/invalid_type.json"),
        "context_window": Failure(400, "errors/context_length_exceeded.json"),
        "content_policy": Failure(400, "errors/content_policy_violation.json"),
        "unauthorized": Failure(401, "errors/invalid_api_key.json"),
        "forbidden": Failure(403, "errors/unsupported_country.json"),
        "not_found": Failure(404, "errors/model_not_found.json"),
        "request_timeout": Failure(408, "errors/request_timeout.json"),
        "unprocessable": Failure(422, "errors/unprocessable_entity.json"),
        "rate_limited": Failure(429, "errors/rate_limit_exceeded.json", RATE_LIMIT_HEADERS),
        "server_error": Failure(500, "errors/server_error.json"),
        "bad_gateway": Failure(502, "errors/bad_gateway.html"),
        "unavailable": Failure(503, "errors/overloaded.json"),
    }
    retry_after = 7.0
    malformed_body = b'{"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "cre'
    error_stream = "chat_stream_error_event.sse"
    malformed_event = b'data: {"id":"chatcmpl-BdWf2Yb8","object":"chat.comp\n\n'

    def settings(self) -> dict[str, Any]:
        return {
            "id": "openai-1",
            "model_name": "gpt-x",
            "provider": "openai",
            "upstream_model": "gpt-4o-mini",
            "api_base": "https://api.openai.example/v1",
            "credentials": Credentials(api_key=Secret("sk-test-123"), extra={"organization": "org-test"}),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def stream_head(self) -> bytes:
        return self.first_events("chat_stream.sse", 3)

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        self.answer_json(200, f"embeddings_{wire}.json")
        floats = json.loads((FIXTURES / "embeddings_float.json").read_text())
        vectors = [item["embedding"] for item in floats["data"]]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)


HARNESSES = {"openai": OpenAIHarness}
