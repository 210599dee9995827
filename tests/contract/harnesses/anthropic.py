"""The harness of the Anthropic adapter: an httpx.MockTransport upstream answering the Messages API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from adapters.llm.anthropic import AnthropicProvider
from domain.completions import CompletionRequest, NativeRequest, Usage
from domain.deployments import Credentials, Limits, Secret
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    Failure,
    HttpHarness,
    RecordingStream,
    Reply,
    ScriptedEmbeddings,
    chat_request,
)

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

    def answer_reads(self, reads: list[bytes]) -> None:
        """Scripts a streamed answer that arrives in exactly these network reads."""

        def answer(_: httpx.Request) -> httpx.Response:
            stream = RecordingStream(b"")
            stream.pieces = list(reads)
            self.upstream.streams.append(stream)
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

        self.upstream.answer = answer


def native_body() -> dict[str, Any]:
    """The Claude Code-shaped Messages request of native_request.json, as its client sent it."""
    return json.loads((FIXTURES / "native_request.json").read_text())


def native_request(
    body: dict[str, Any] | None = None, headers: dict[str, str] | None = None, **changes: Any
) -> CompletionRequest:
    """A request that came in Anthropic's format: the parsed request (the suite's chat, as the adapter
    must not read it) with the client's own body and headers."""
    native = NativeRequest("anthropic", native_body() if body is None else body, headers or {})
    return chat_request(native=native, **changes)


HARNESSES = {"anthropic": AnthropicHarness}
