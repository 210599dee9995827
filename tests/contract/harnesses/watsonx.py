"""The harness of the watsonx.ai adapter: an httpx.MockTransport upstream answering watsonx.ai's text chat
(JSON and SSE) and embeddings, and IBM Cloud IAM's token endpoint."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from adapters.llm.watsonx import WatsonxProvider
from domain.completions import Usage
from domain.deployments import Credentials, Limits, Secret
from domain.embeddings import EmbeddingRequest
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    TEXTS,
    Failure,
    HttpHarness,
    Reply,
    ScriptedEmbeddings,
)

FIXTURES = FIXTURES_ROOT / "watsonx"
API_BASE = "https://us-south.ml.cloud.example"
IAM_URL = "https://iam.cloud.example/identity/token"
PROJECT_ID = "c0e3a9a0-b1f4-4c34-b2a2-6a7f0d5e1b11"
IAM_TOKEN = "eyJraWQiOiIyMDI1MDEyMyIsImFsZyI6IlJTMjU2In0.iam-token"


class WatsonxHarness(HttpHarness):
    adapter = WatsonxProvider
    fixtures = FIXTURES
    text = Reply("chat_stream.sse", "chat.json", Usage(prompt_tokens=19, completion_tokens=10))
    tool = Reply("chat_stream_tool_call.sse", "chat_tool_call.json", Usage(82, 17))
    failures = {
        "bad_request": Failure(400, "errors/json_validation_error.json"),
        "context_window": Failure(400, "errors/context_length.json"),
        "unauthorized": Failure(401, "errors/authentication_token_expired.json"),
        "forbidden": Failure(403, "errors/authorization_rejected.json"),
        "not_found": Failure(404, "errors/model_not_supported.json"),
        "request_timeout": Failure(408, "errors/request_timeout.json"),
        "unprocessable": Failure(422, "errors/unprocessable.json"),
        "rate_limited": Failure(429, "errors/rate_limit.json", {"retry-after": "7"}),
        "server_error": Failure(500, "errors/internal_error.json"),
        "bad_gateway": Failure(502, "errors/bad_gateway.html"),
        "unavailable": Failure(503, "errors/service_unavailable.json"),
    }
    unscripted = {
        "content_policy": "watsonx.ai has no content-policy error: its moderations annotate the reply instead"
    }
    retry_after = 7.0
    malformed_body = b'{"id": "chatcmpl-3f0a6f2c9e1b4d7a8c5e2b1a0f9d8c7b", "model_id": "ibm/gran'
    error_stream = "chat_stream_error.sse"
    malformed_event = b'id: 4\nevent: message\ndata: {"id":"chatcmpl-3f0a6f2c","object":"chat.comp\n\n'

    def __init__(self, **deployment_changes: Any) -> None:
        self.token_requests: list[httpx.Request] = []
        self.iam_reply: tuple[int, dict[str, Any]] = (
            200,
            {"access_token": IAM_TOKEN, "token_type": "Bearer", "expires_in": 3600},
        )
        """What IAM answers a token request: its status and JSON body."""
        super().__init__(**deployment_changes)

    def settings(self) -> dict[str, Any]:
        return {
            "id": "watsonx-1",
            "model_name": "granite",
            "provider": "watsonx",
            "upstream_model": "ibm/granite-3-8b-instruct",
            "api_base": API_BASE,
            "credentials": Credentials(
                api_key=Secret("ibm-cloud-api-key-123"),
                extra={"project_id": PROJECT_ID, "iam_url": IAM_URL},
            ),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def route(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == IAM_URL:
            self.token_requests.append(request)
            status, body = self.iam_reply
            return httpx.Response(status, json=body)
        return self.upstream(request)

    def stream_head(self) -> bytes:
        return self.first_events("chat_stream.sse", 3)

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire == "base64":
            pytest.skip("watsonx.ai answers float lists only")
        self.answer_json(200, "embeddings.json")
        vectors = [
            item["embedding"] for item in json.loads((FIXTURES / "embeddings.json").read_text())["results"]
        ]
        request = EmbeddingRequest(model="embed-x", inputs=TEXTS)
        return ScriptedEmbeddings(request, dimensions=8, usage=Usage(12), vectors=vectors)


HARNESSES = {"watsonx": WatsonxHarness}
