"""The harness of the Cohere adapter: an httpx.MockTransport upstream answering Cohere's v2 API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from adapters.llm.cohere import CohereProvider
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

FIXTURES = FIXTURES_ROOT / "cohere"


class CohereHarness(ProviderHarness):
    _STATUS = {
        "bad_request": (400, "errors/bad_request.json"),
        "context_window": (400, "errors/too_many_tokens.json"),
        "unauthorized": (401, "errors/unauthorized.json"),
        "forbidden": (403, "errors/forbidden.json"),
        "not_found": (404, "errors/not_found.json"),
        "request_timeout": (504, "errors/gateway_timeout.json"),
        "unprocessable": (422, "errors/unprocessable.json"),
        "rate_limited": (429, "errors/rate_limited.json"),
        "server_error": (500, "errors/server_error.json"),
        "bad_gateway": (502, "errors/bad_gateway.html"),
        "unavailable": (503, "errors/unavailable.json"),
    }
    retry_after = 7.0

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream(fixtures=FIXTURES)
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.upstream))
        self.provider = CohereProvider(self.client)
        settings: dict[str, Any] = {
            "id": "cohere-1",
            "model_name": "command-x",
            "provider": "cohere",
            "upstream_model": "command-a-03-2025",
            "api_base": "https://api.cohere.example",
            "credentials": Credentials(api_key=Secret("co-test-123")),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }
        self.deployment = Deployment(**(settings | deployment_changes))

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "chat_stream.sse").read_bytes())
        else:
            self.upstream.json(200, "chat.json")
        request = chat_request(stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=Usage(prompt_tokens=19, completion_tokens=10))

    def tool_call(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "chat_stream_tool_call.sse").read_bytes())
        else:
            self.upstream.json(200, "chat_tool_call.json")
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        arguments = {"location": "Boston, MA"}
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments=arguments, usage=Usage(37, 28))

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire != "float":
            pytest.skip("the adapter asks Cohere for float embeddings only")
        self.upstream.json(200, "embed.json")
        vectors = json.loads((FIXTURES / "embed.json").read_text())["embeddings"]["float"]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind == "content_policy":
            pytest.skip("Cohere has no content-policy error: its safety modes shape the reply instead")
        if kind in self._STATUS:
            status, fixture = self._STATUS[kind]
            headers = {"retry-after": "7"} if kind == "rate_limited" else None
            self.upstream.json(status, fixture, headers)
        elif kind == "connection_refused":
            self.upstream.fail(httpx.ConnectError("[Errno 111] Connection refused"))
        elif kind == "connection_reset":
            self.upstream.fail(httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.fail(httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_body":
            body = b'{"id": "5a50480a-cf52-46f0-af01-53d18539bd31", "message": {"role": "assis'
            self.upstream.answer = lambda _: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        # Cut the stream after message-start and the first words.
        text = (FIXTURES / "chat_stream.sse").read_bytes()
        head = b"\n\n".join(text.split(b"\n\n")[:4]) + b"\n\n"
        if kind == "error_event":
            self.upstream.sse((FIXTURES / "chat_stream_error.sse").read_bytes())
        elif kind == "connection_reset":
            self.upstream.sse(head, then=httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.sse(head, then=httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_chunk":
            self.upstream.sse(
                head + b'event: content-delta\ndata: {"type":"content-delta","index":0,"del\n\n'
            )
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()


HARNESSES = {"cohere": CohereHarness}
