"""The harness of the OpenAI adapter: an httpx.MockTransport upstream answering OpenAI's wire format."""

from __future__ import annotations

import json
from typing import Any

import httpx

from adapters.llm.openai import OpenAIProvider
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
    embedding_request,
)

FIXTURES = FIXTURES_ROOT / "openai"


class OpenAIHarness(ProviderHarness):
    _STATUS = {
        "bad_request": (400, "errors/invalid_type.json"),
        "context_window": (400, "errors/context_length_exceeded.json"),
        "content_policy": (400, "errors/content_policy_violation.json"),
        "unauthorized": (401, "errors/invalid_api_key.json"),
        "forbidden": (403, "errors/unsupported_country.json"),
        "not_found": (404, "errors/model_not_found.json"),
        "request_timeout": (408, "errors/request_timeout.json"),
        "unprocessable": (422, "errors/unprocessable_entity.json"),
        "rate_limited": (429, "errors/rate_limit_exceeded.json"),
        "server_error": (500, "errors/server_error.json"),
        "bad_gateway": (502, "errors/bad_gateway.html"),
        "unavailable": (503, "errors/overloaded.json"),
    }
    _RATE_LIMIT_HEADERS = {
        "retry-after": "7",
        "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-tokens": "147",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-reset-tokens": "81ms",
    }
    retry_after = 7.0

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream()
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.upstream))
        self.provider = OpenAIProvider(self.client)
        settings: dict[str, Any] = {
            "id": "openai-1",
            "model_name": "gpt-x",
            "provider": "openai",
            "upstream_model": "gpt-4o-mini",
            "api_base": "https://api.openai.example/v1",
            "credentials": Credentials(api_key=Secret("sk-test-123"), extra={"organization": "org-test"}),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }
        self.deployment = Deployment(**(settings | deployment_changes))

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "chat_stream.sse").read_bytes())
        else:
            self.upstream.json(200, "chat_completion.json")
        request = chat_request(stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=Usage(prompt_tokens=19, completion_tokens=10))

    def tool_call(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "chat_stream_tool_calls.sse").read_bytes())
        else:
            self.upstream.json(200, "chat_completion_tool_calls.json")
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        arguments = {"location": "Boston, MA"}
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments=arguments, usage=Usage(82, 17))

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        self.upstream.json(200, f"embeddings_{wire}.json")
        floats = json.loads((FIXTURES / "embeddings_float.json").read_text())
        vectors = [item["embedding"] for item in floats["data"]]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)

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
            body = b'{"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "cre'
            self.upstream.answer = lambda _: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        # Cut the stream after its first few events; the role and a word or two have gone out by then.
        text = (FIXTURES / "chat_stream.sse").read_bytes()
        head = b"\n\n".join(text.split(b"\n\n")[:3]) + b"\n\n"
        if kind == "error_event":
            self.upstream.sse((FIXTURES / "chat_stream_error_event.sse").read_bytes())
        elif kind == "connection_reset":
            self.upstream.sse(head, then=httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.sse(head, then=httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_chunk":
            self.upstream.sse(head + b'data: {"id":"chatcmpl-BdWf2Yb8","object":"chat.comp\n\n')
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()


HARNESSES = {"openai": OpenAIHarness}
