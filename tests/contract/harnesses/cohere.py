"""The harness of the Cohere adapter: an httpx.MockTransport upstream answering Cohere's v2 API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.llm.cohere import CohereProvider
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

FIXTURES = FIXTURES_ROOT / "cohere"


class CohereHarness(HttpHarness):
    adapter = CohereProvider
    fixtures = FIXTURES
    text = Reply("chat_stream.sse", "chat.json", Usage(prompt_tokens=19, completion_tokens=10))
    tool = Reply("chat_stream_tool_call.sse", "chat_tool_call.json", Usage(37, 28))
    failures = {
        "bad_request": Failure(400, "errors/bad_request.json"),
        "context_window": Failure(400, "errors/too_many_tokens.json"),
        "unauthorized": Failure(401, "errors/unauthorized.json"),
        "forbidden": Failure(403, "errors/forbidden.json"),
        "not_found": Failure(404, "errors/not_found.json"),
        "request_timeout": Failure(504, "errors/gateway_timeout.json"),
        "unprocessable": Failure(422, "errors/unprocessable.json"),
        "rate_limited": Failure(429, "errors/rate_limited.json", {"retry-after": "7"}),
        "server_error": Failure(500, "errors/server_error.json"),
        "bad_gateway": Failure(502, "errors/bad_gateway.html"),
        "unavailable": Failure(503, "errors/unavailable.json"),
    }
    unscripted = {
        "content_policy": "Cohere has no content-policy error: its safety modes shape the reply instead"
    }
    retry_after = 7.0
    malformed_body = b'{"id": "5a50480a-cf52-46f0-af01-53d18539bd31", "message": {"role": "assis'
    error_stream = "chat_stream_error.sse"
    malformed_event = b'event: content-delta\ndata: {"type":"content-delta","index":0,"del\n\n'

    def settings(self) -> dict[str, Any]:
        return {
            "id": "cohere-1",
            "model_name": "command-x",
            "provider": "cohere",
            "upstream_model": "command-a-03-2025",
            "api_base": "https://api.cohere.example",
            "credentials": Credentials(api_key=Secret("co-test-123")),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def stream_head(self) -> bytes:
        return self.first_events("chat_stream.sse", 4)  # message-start and the first words

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire != "float":
            pytest.skip("the adapter asks Cohere for float embeddings only")
        self.answer_json(200, "embed.json")
        vectors = json.loads((FIXTURES / "embed.json").read_text())["embeddings"]["float"]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)


HARNESSES = {"cohere": CohereHarness}
