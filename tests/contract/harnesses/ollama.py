"""The harness of the Ollama adapter: an httpx.MockTransport upstream answering Ollama's native API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.llm.ollama import OllamaProvider
from domain.completions import Usage
from domain.deployments import Limits
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    Failure,
    HttpHarness,
    Reply,
    ScriptedEmbeddings,
    embedding_request,
)

FIXTURES = FIXTURES_ROOT / "ollama"


class OllamaHarness(HttpHarness):
    adapter = OllamaProvider
    fixtures = FIXTURES
    text = Reply("chat_stream.ndjson", "chat.json", Usage(prompt_tokens=26, completion_tokens=10))
    tool = Reply(
        "chat_stream_tool_call.ndjson", "chat_tool_call.json", Usage(122, 33), streamed_usage=Usage(169, 15)
    )
    failures = {
        "bad_request": Failure(400, "errors/bad_request.json"),
        "context_window": Failure(400, "errors/context_length.json"),
        "unauthorized": Failure(401, "errors/unauthorized.json"),
        "forbidden": Failure(403, "errors/forbidden.json"),
        "not_found": Failure(404, "errors/model_not_found.json"),
        "request_timeout": Failure(408, "errors/request_timeout.json"),
        "unprocessable": Failure(422, "errors/unprocessable.json"),
        "rate_limited": Failure(429, "errors/rate_limited.json", {"retry-after": "7"}),
        "server_error": Failure(500, "errors/server_error.json"),
        "bad_gateway": Failure(502, "errors/bad_gateway.json"),
        "unavailable": Failure(503, "errors/server_busy.json"),
    }
    unscripted = {
        "content_policy": "Ollama runs models without a content filter: it has no content-policy error"
    }
    retry_after = 7.0
    malformed_body = b'{"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z","message":{"role":"ass'
    error_stream = "chat_stream_error.ndjson"
    malformed_event = b'{"model":"llama3.2","created_at":"2023-08-04T08:52\n'

    def settings(self) -> dict[str, Any]:
        return {
            "id": "ollama-1",
            "model_name": "llama-x",
            "provider": "ollama_chat",
            "upstream_model": "llama3.2",
            "api_base": "http://ollama.example:11434",
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def answer_stream(self, body: bytes, *, then: Exception | None = None) -> None:
        # Ollama streams NDJSON, one JSON object a line.
        self.upstream.stream(body, then=then, headers={"content-type": "application/x-ndjson"})

    def stream_head(self) -> bytes:
        return b"".join((FIXTURES / "chat_stream.ndjson").read_bytes().splitlines(keepends=True)[:3])

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire != "float":
            pytest.skip("Ollama sends embeddings as floats only")
        self.answer_json(200, "embed.json")
        vectors = json.loads((FIXTURES / "embed.json").read_text())["embeddings"]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)


HARNESSES = {"ollama": OllamaHarness}
