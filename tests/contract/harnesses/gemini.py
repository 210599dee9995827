"""The harnesses of the Gemini and Vertex AI adapters: an httpx.MockTransport upstream answering Google's
wire format (and, for Vertex, Google's OAuth2 token endpoint)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx
import pytest

from adapters.llm.gemini import GeminiProvider, VertexProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Credentials, Deployment, Limits, Secret
from ports.llm_provider import LLMProvider
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

FIXTURES = FIXTURES_ROOT / "gemini"
TOKEN_HOST = "oauth2.googleapis.com"
# gcloud's application-default credentials shape (type authorized_user): a refresh token, no signing.
USER_CREDENTIALS = json.dumps(
    {
        "type": "authorized_user",
        "client_id": "1234567890-test.apps.googleusercontent.com",
        "client_secret": "test-client-secret",
        "refresh_token": "1//0gRefreshTokenForTests",
        "quota_project_id": "switchyard-quota",
    }
)


class GeminiHarness(ProviderHarness):
    provider_class: ClassVar[type[LLMProvider]] = GeminiProvider
    _STATUS: ClassVar[dict[str, tuple[int, str]]] = {
        "bad_request": (400, "errors/invalid_argument.json"),
        "context_window": (400, "errors/context_window.json"),
        # The Gemini API answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
        "unauthorized": (400, "errors/api_key_invalid.json"),
        "forbidden": (403, "errors/permission_denied.json"),
        "not_found": (404, "errors/not_found.json"),
        "request_timeout": (504, "errors/deadline_exceeded.json"),
        "rate_limited": (429, "errors/resource_exhausted.json"),
        "server_error": (500, "errors/internal.json"),
        "bad_gateway": (502, "errors/bad_gateway.html"),
        "unavailable": (503, "errors/unavailable.json"),
    }
    retry_after = 7.0  # RetryInfo's retryDelay in resource_exhausted.json

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream(fixtures=FIXTURES)
        self.token_requests: list[httpx.Request] = []
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self._route))
        self.provider = self.provider_class(self.client)
        self.deployment = Deployment(**(self.settings() | deployment_changes))

    def settings(self) -> dict[str, Any]:
        return {
            "id": "gemini-1",
            "model_name": "gpt-x",
            "provider": "gemini",
            "upstream_model": "gemini-2.5-flash",
            "api_base": "https://generativelanguage.googleapis.com",
            "credentials": Credentials(api_key=Secret("AIzaSy-test-key")),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def _route(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == TOKEN_HOST:
            self.token_requests.append(request)
            body = (FIXTURES / "token.json").read_bytes()
            return httpx.Response(200, content=body, headers={"content-type": "application/json"})
        return self.upstream(request)

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "stream.sse").read_bytes())
        else:
            self.upstream.json(200, "generate_content.json")
        request = chat_request(stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=Usage(prompt_tokens=9, completion_tokens=10))

    def tool_call(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "stream_tool_call.sse").read_bytes())
        else:
            self.upstream.json(200, "generate_content_tool_call.json")
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        usage = Usage(prompt_tokens=82, completion_tokens=17 + 104, reasoning_tokens=104)
        return Scripted(
            request, tool_name=WEATHER_TOOL.name, arguments={"location": "Boston, MA"}, usage=usage
        )

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire != "float":
            pytest.skip("Google sends embedding vectors only as JSON numbers")
        self.upstream.json(200, "batch_embed_contents.json")
        vectors = [
            item["values"]
            for item in json.loads((FIXTURES / "batch_embed_contents.json").read_text())["embeddings"]
        ]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(), vectors=vectors)

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind in self._STATUS:
            status, fixture = self._STATUS[kind]
            self.upstream.json(status, fixture)
        elif kind == "content_policy":
            # Gemini refuses a prompt with a 200 that has no candidates, only promptFeedback.blockReason.
            if stream:
                self.upstream.sse((FIXTURES / "blocked_prompt.sse").read_bytes())
            else:
                self.upstream.json(200, "blocked_prompt.json")
        elif kind == "unprocessable":
            pytest.skip("Google's APIs have no 422: google.rpc.Code maps to no such status")
        elif kind == "connection_refused":
            self.upstream.fail(httpx.ConnectError("[Errno 111] Connection refused"))
        elif kind == "connection_reset":
            self.upstream.fail(httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.fail(httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_body":
            body = b'{"candidates": [{"content": {"parts": [{"text": "Hello! How can'
            self.upstream.answer = lambda _: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        # Cut the stream after its first event; the role and the first words have gone out by then.
        head = (FIXTURES / "stream.sse").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        if kind == "error_event":
            self.upstream.sse((FIXTURES / "stream_error_event.sse").read_bytes())
        elif kind == "connection_reset":
            self.upstream.sse(head, then=httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.sse(head, then=httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_chunk":
            self.upstream.sse(head + b'data: {"candidates": [{"content": {"parts": [{"te\r\n\r\n')
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()


class VertexHarness(GeminiHarness):
    provider_class = VertexProvider
    _STATUS = GeminiHarness._STATUS | {"unauthorized": (401, "errors/unauthenticated.json")}

    def settings(self) -> dict[str, Any]:
        extra = {
            "vertex_project": "switchyard-test",
            "vertex_location": "us-central1",
            "vertex_credentials": USER_CREDENTIALS,
        }
        return super().settings() | {
            "id": "vertex-1",
            "provider": "vertex_ai",
            "api_base": None,
            "credentials": Credentials(extra=extra),
        }

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire != "float":
            pytest.skip("Google sends embedding vectors only as JSON numbers")
        self.upstream.json(200, "vertex_predict.json")
        payload = json.loads((FIXTURES / "vertex_predict.json").read_text())
        vectors = [item["embeddings"]["values"] for item in payload["predictions"]]
        self.deployment = Deployment(**(self.settings() | {"upstream_model": "text-embedding-005"}))
        return ScriptedEmbeddings(
            embedding_request(), dimensions=8, usage=Usage(prompt_tokens=16), vectors=vectors
        )


HARNESSES = {"gemini": GeminiHarness, "vertex_ai": VertexHarness}
