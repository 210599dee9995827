"""The harnesses of the Gemini and Vertex AI adapters: an httpx.MockTransport upstream answering Google's
wire format (and, for Vertex, Google's OAuth2 token endpoint)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import httpx
import pytest

from adapters.llm.gemini import GeminiProvider, VertexProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Credentials, Deployment, Limits, Secret
from ports.llm_provider import LLMProvider
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    Failure,
    HttpHarness,
    Reply,
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


class GeminiHarness(HttpHarness):
    adapter: ClassVar[Callable[[httpx.AsyncClient], LLMProvider]] = GeminiProvider
    fixtures = FIXTURES
    text = Reply("stream.sse", "generate_content.json", Usage(prompt_tokens=9, completion_tokens=10))
    tool = Reply(
        "stream_tool_call.sse",
        "generate_content_tool_call.json",
        Usage(prompt_tokens=82, completion_tokens=17 + 104, reasoning_tokens=104),
    )
    failures: ClassVar[dict[str, Failure]] = {
        "bad_request": Failure(400, "errors/invalid_argument.json"),
        "context_window": Failure(400, "errors/context_window.json"),
        # The Gemini API answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
        "unauthorized": Failure(400, "errors/api_key_invalid.json"),
        "forbidden": Failure(403, "errors/permission_denied.json"),
        "not_found": Failure(404, "errors/not_found.json"),
        "request_timeout": Failure(504, "errors/deadline_exceeded.json"),
        "rate_limited": Failure(429, "errors/resource_exhausted.json"),
        "server_error": Failure(500, "errors/internal.json"),
        "bad_gateway": Failure(502, "errors/bad_gateway.html"),
        "unavailable": Failure(503, "errors/unavailable.json"),
    }
    unscripted = {"unprocessable": "Google's APIs have no 422: google.rpc.Code maps to no such status"}
    retry_after = 7.0  # RetryInfo's retryDelay in resource_exhausted.json
    malformed_body = b'{"candidates": [{"content": {"parts": [{"text": "Hello! How can'
    error_stream = "stream_error_event.sse"
    malformed_event = b'data: {"candidates": [{"content": {"parts": [{"te\r\n\r\n'

    def __init__(self, **deployment_changes: Any) -> None:
        self.token_requests: list[httpx.Request] = []
        super().__init__(**deployment_changes)

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

    def route(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == TOKEN_HOST:
            self.token_requests.append(request)
            body = (FIXTURES / "token.json").read_bytes()
            return httpx.Response(200, content=body, headers={"content-type": "application/json"})
        return self.upstream(request)

    def stream_head(self) -> bytes:
        return self.first_events("stream.sse", 1, b"\r\n\r\n")

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire != "float":
            pytest.skip("Google sends embedding vectors only as JSON numbers")
        self.answer_json(200, "batch_embed_contents.json")
        vectors = [
            item["values"]
            for item in json.loads((FIXTURES / "batch_embed_contents.json").read_text())["embeddings"]
        ]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(), vectors=vectors)

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind != "content_policy":
            return super().failure(kind, stream=stream)
        # Gemini refuses a prompt with a 200 that has no candidates, only promptFeedback.blockReason.
        self.answer(Reply("blocked_prompt.sse", "blocked_prompt.json", Usage()), stream=stream)
        return chat_request(stream=stream, include_usage=stream)


class VertexHarness(GeminiHarness):
    adapter = VertexProvider
    failures = GeminiHarness.failures | {"unauthorized": Failure(401, "errors/unauthenticated.json")}

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
        self.answer_json(200, "vertex_predict.json")
        payload = json.loads((FIXTURES / "vertex_predict.json").read_text())
        vectors = [item["embeddings"]["values"] for item in payload["predictions"]]
        self.deployment = Deployment(**(self.settings() | {"upstream_model": "text-embedding-005"}))
        return ScriptedEmbeddings(
            embedding_request(), dimensions=8, usage=Usage(prompt_tokens=16), vectors=vectors
        )


HARNESSES = {"gemini": GeminiHarness, "vertex_ai": VertexHarness}
