"""The harness of the Ollama adapter: an httpx.MockTransport upstream answering Ollama's native API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from adapters.llm.ollama import OllamaProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Deployment, Limits
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    REPLY,
    WEATHER_TOOL,
    FakeUpstream,
    ProviderHarness,
    RecordingStream,
    Scripted,
    ScriptedEmbeddings,
    chat_request,
    embedding_request,
)

FIXTURES = FIXTURES_ROOT / "ollama"


def answer_ndjson(upstream: FakeUpstream, body: bytes, *, then: Exception | None = None) -> None:
    """Scripts `upstream` to stream `body` as Ollama does (application/x-ndjson), in small pieces."""

    def answer(_: httpx.Request) -> httpx.Response:
        stream = RecordingStream(body, then=then)
        upstream.streams.append(stream)
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, stream=stream)

    upstream.answer = answer


class OllamaHarness(ProviderHarness):
    _STATUS = {
        "bad_request": (400, "errors/bad_request.json"),
        "context_window": (400, "errors/context_length.json"),
        "unauthorized": (401, "errors/unauthorized.json"),
        "forbidden": (403, "errors/forbidden.json"),
        "not_found": (404, "errors/model_not_found.json"),
        "request_timeout": (408, "errors/request_timeout.json"),
        "unprocessable": (422, "errors/unprocessable.json"),
        "rate_limited": (429, "errors/rate_limited.json"),
        "server_error": (500, "errors/server_error.json"),
        "bad_gateway": (502, "errors/bad_gateway.json"),
        "unavailable": (503, "errors/server_busy.json"),
    }
    retry_after = 7.0

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream(fixtures=FIXTURES)
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.upstream))
        self.provider = OllamaProvider(self.client)
        settings: dict[str, Any] = {
            "id": "ollama-1",
            "model_name": "llama-x",
            "provider": "ollama_chat",
            "upstream_model": "llama3.2",
            "api_base": "http://ollama.example:11434",
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }
        self.deployment = Deployment(**(settings | deployment_changes))

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            answer_ndjson(self.upstream, (FIXTURES / "chat_stream.ndjson").read_bytes())
        else:
            self.upstream.json(200, "chat.json")
        request = chat_request(stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=Usage(prompt_tokens=26, completion_tokens=10))

    def tool_call(self, *, stream: bool) -> Scripted:
        if stream:
            answer_ndjson(self.upstream, (FIXTURES / "chat_stream_tool_call.ndjson").read_bytes())
            usage = Usage(169, 15)
        else:
            self.upstream.json(200, "chat_tool_call.json")
            usage = Usage(122, 33)
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        arguments = {"location": "Boston, MA"}
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments=arguments, usage=usage)

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire != "float":
            pytest.skip("Ollama sends embeddings as floats only")
        self.upstream.json(200, "embed.json")
        vectors = json.loads((FIXTURES / "embed.json").read_text())["embeddings"]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind == "content_policy":
            pytest.skip("Ollama runs models without a content filter: it has no content-policy error")
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
            body = b'{"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z","message":{"role":"ass'
            self.upstream.answer = lambda _: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        lines = (FIXTURES / "chat_stream.ndjson").read_bytes().splitlines(keepends=True)
        head = b"".join(lines[:3])
        if kind == "error_event":
            answer_ndjson(self.upstream, (FIXTURES / "chat_stream_error.ndjson").read_bytes())
        elif kind == "connection_reset":
            answer_ndjson(self.upstream, head, then=httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            answer_ndjson(self.upstream, head, then=httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_chunk":
            answer_ndjson(self.upstream, head + b'{"model":"llama3.2","created_at":"2023-08-04T08:52\n')
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()


HARNESSES = {"ollama": OllamaHarness}
