"""The harness of the Anthropic adapter: an httpx.MockTransport upstream answering the Messages API."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.llm.anthropic import AnthropicProvider
from domain.completions import Usage
from domain.deployments import Credentials, Limits, Secret
from tests.contract.harnesses.base import FIXTURES_ROOT, Failure, HttpHarness, Reply, ScriptedEmbeddings

FIXTURES = FIXTURES_ROOT / "anthropic"
RATE_LIMIT_HEADERS = {
    "retry-after": "7",
    "anthropic-ratelimit-input-tokens-limit": "50",
    "anthropic-ratelimit-input-tokens-remaining": "0",
    "anthropic-ratelimit-input-tokens-reset": "2030-01-01T00:00:00Z",
    "request-id": "req_011CSHoEeqs5C35K2UUqR7Fy",
}


class AnthropicHarness(HttpHarness):
    adapter = AnthropicProvider
    fixtures = FIXTURES
    text = Reply(
        "stream.sse",
        "message.json",
        Usage(prompt_tokens=19, completion_tokens=12, cached_tokens=10, cache_creation_tokens=4),
    )
    tool = Reply("stream_tool_use.sse", "message_tool_use.json", Usage(384, 67))
    failures = {
        "bad_request": Failure(400, "errors/invalid_request.json"),
        "context_window": Failure(400, "errors/prompt_too_long.json"),
        "content_policy": Failure(400, "errors/content_filtering.json"),
        "unauthorized": Failure(401, "errors/authentication.json"),
        "forbidden": Failure(403, "errors/permission.json"),
        "not_found": Failure(404, "errors/not_found.json"),
        "request_timeout": Failure(504, "errors/timeout.json"),
        "unprocessable": Failure(422, "errors/unprocessable.json"),
        "rate_limited": Failure(429, "errors/rate_limit.json", RATE_LIMIT_HEADERS),
        "server_error": Failure(500, "errors/api_error.json"),
        "bad_gateway": Failure(502, "errors/bad_gateway.html"),
        "unavailable": Failure(529, "errors/overloaded.json"),
    }
    retry_after = 7.0
    malformed_body = b'{"id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assis'
    error_stream = "stream_error_event.sse"
    malformed_event = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"ty\n\n'
    )

    def settings(self) -> dict[str, Any]:
        return {
            "id": "anthropic-1",
            "model_name": "claude-x",
            "provider": "anthropic",
            "upstream_model": "claude-sonnet-4-5-20250929",
            "api_base": "https://api.anthropic.example",
            "credentials": Credentials(api_key=Secret("sk-ant-test-123")),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def stream_head(self) -> bytes:
        return self.first_events("stream.sse", 4)

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        pytest.skip("Anthropic serves no embeddings")


HARNESSES = {"anthropic": AnthropicHarness}
