"""The harness of the Anthropic adapter: an httpx.MockTransport upstream answering the Messages API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from adapters.llm.anthropic import AnthropicProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Credentials, Deployment, Limits, Secret
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    REPLY,
    WEATHER_TOOL,
    FakeUpstream,
    ProviderHarness,
    Scripted,
    ScriptedEmbeddings,
    chat_request,
)

FIXTURES = FIXTURES_ROOT / "anthropic"


class AnthropicHarness(ProviderHarness):
    _STATUS = {
        "bad_request": (400, "errors/invalid_request.json"),
        "context_window": (400, "errors/prompt_too_long.json"),
        "content_policy": (400, "errors/content_filtering.json"),
        "unauthorized": (401, "errors/authentication.json"),
        "forbidden": (403, "errors/permission.json"),
        "not_found": (404, "errors/not_found.json"),
        "request_timeout": (504, "errors/timeout.json"),
        "unprocessable": (422, "errors/unprocessable.json"),
        "rate_limited": (429, "errors/rate_limit.json"),
        "server_error": (500, "errors/api_error.json"),
        "bad_gateway": (502, "errors/bad_gateway.html"),
        "unavailable": (529, "errors/overloaded.json"),
    }
    _RATE_LIMIT_HEADERS = {
        "retry-after": "7",
        "anthropic-ratelimit-input-tokens-limit": "50",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2030-01-01T00:00:00Z",
        "request-id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }
    retry_after = 7.0

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream(fixtures=FIXTURES)
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.upstream))
        self.provider = AnthropicProvider(self.client)
        settings: dict[str, Any] = {
            "id": "anthropic-1",
            "model_name": "claude-x",
            "provider": "anthropic",
            "upstream_model": "claude-sonnet-4-5-20250929",
            "api_base": "https://api.anthropic.example",
            "credentials": Credentials(api_key=Secret("sk-ant-test-123")),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }
        self.deployment = Deployment(**(settings | deployment_changes))

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "stream.sse").read_bytes())
        else:
            self.upstream.json(200, "message.json")
        request = chat_request(stream=stream, include_usage=stream)
        usage = Usage(prompt_tokens=19, completion_tokens=12, cached_tokens=10, cache_creation_tokens=4)
        return Scripted(request, text=REPLY, usage=usage)

    def tool_call(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "stream_tool_use.sse").read_bytes())
        else:
            self.upstream.json(200, "message_tool_use.json")
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        arguments = {"location": "Boston, MA"}
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments=arguments, usage=Usage(384, 67))

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        pytest.skip("Anthropic serves no embeddings")

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind in self._STATUS:
            status, fixture = self._STATUS[kind]
            headers = self._RATE_LIMIT_HEADERS if kind == "rate_limited" else None
            self.upstream.json(status, fixture, headers)
        elif kind == "connection_refused":
            self.upstream.fail(httpx.ConnectError("[Errno 111] Connection refused"))
        elif kind == "connection_reset":
            self.upstream.fail(httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.fail(httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_body":
            body = b'{"id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assis'
            self.upstream.answer = lambda _: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        # Cut the stream after its first few events: the role and a word have gone out by then.
        text = (FIXTURES / "stream.sse").read_bytes()
        head = b"\n\n".join(text.split(b"\n\n")[:4]) + b"\n\n"
        if kind == "error_event":
            self.upstream.sse((FIXTURES / "stream_error_event.sse").read_bytes())
        elif kind == "connection_reset":
            self.upstream.sse(head, then=httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.sse(head, then=httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_chunk":
            cut = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"ty\n\n'
            )
            self.upstream.sse(head + cut)
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()


HARNESSES = {"anthropic": AnthropicHarness}
