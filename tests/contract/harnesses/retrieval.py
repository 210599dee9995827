"""Harnesses of the adapters that embed and rerank but never chat (Voyage AI, Jina AI): an
httpx.MockTransport upstream answering their embeddings; their rerank is answered by the rerank
suite's fake (tests/contract/surfaces.py). The chat scenarios do not apply to them."""

from __future__ import annotations

import json
from typing import Any, ClassVar, NoReturn

import pytest

from adapters.llm.jina import JinaProvider
from adapters.llm.voyage import VoyageProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Credentials, Limits, Secret
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    Failure,
    HttpHarness,
    Scripted,
    ScriptedEmbeddings,
    embedding_request,
)


class RetrievalHarness(HttpHarness):
    provider_name: ClassVar[str]
    upstream_model: ClassVar[str]
    retry_after = 7.0

    failures = {  # FastAPI's `{"detail": ...}` bodies, as both answer
        "bad_request": Failure(400, "errors/bad_request.json"),
        "unauthorized": Failure(401, "errors/unauthorized.json"),
        "rate_limited": Failure(429, "errors/rate_limited.json", {"retry-after": "7"}),
        "server_error": Failure(500, "errors/server_error.json"),
        "unavailable": Failure(503, "errors/unavailable.json"),
    }

    def settings(self) -> dict[str, Any]:
        return {
            "id": f"{self.provider_name}-1",
            "model_name": "ranker",
            "provider": self.provider_name,
            "upstream_model": self.upstream_model,
            "api_base": None,  # the adapter's own default; the MockTransport answers it
            "credentials": Credentials(api_key=Secret(f"{self.provider_name}-key-123")),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def _no_chat(self) -> NoReturn:
        pytest.skip(f"{self.provider_name} serves embeddings and rerank, not chat")

    def text_reply(self, *, stream: bool) -> Scripted:
        self._no_chat()

    def tool_call(self, *, stream: bool) -> Scripted:
        self._no_chat()

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        self._no_chat()

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        self._no_chat()

    def stream_head(self) -> bytes:
        self._no_chat()

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        fixture = self.fixtures / f"embeddings_{wire}.json"
        if not fixture.exists():
            pytest.skip(f"{self.provider_name} is asked for float vectors only")
        self.answer_json(200, fixture)
        floats = json.loads((self.fixtures / "embeddings_float.json").read_text())
        vectors = [item["embedding"] for item in floats["data"]]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)


class VoyageHarness(RetrievalHarness):
    adapter = VoyageProvider
    fixtures = FIXTURES_ROOT / "voyage"
    provider_name = "voyage"
    upstream_model = "voyage-3.5"


class JinaHarness(RetrievalHarness):
    adapter = JinaProvider
    fixtures = FIXTURES_ROOT / "jina"
    provider_name = "jina_ai"
    upstream_model = "jina-embeddings-v3"


HARNESSES = {"voyage": VoyageHarness, "jina_ai": JinaHarness}
