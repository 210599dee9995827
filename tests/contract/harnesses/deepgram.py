"""The harness of the Deepgram adapter: an httpx.MockTransport upstream answering Deepgram's
pre-recorded `/v1/listen`. Deepgram serves transcriptions only, so it joins the audio contract suite
(tests/contract/surfaces.py) and not the chat one: this module exports no HARNESSES."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from adapters.llm.deepgram import DeepgramProvider
from domain.deployments import Credentials, Limits, Secret
from tests.contract.harnesses.base import FIXTURES_ROOT, Failure, HttpHarness

FIXTURES = FIXTURES_ROOT / "deepgram"


class DeepgramHarness(HttpHarness):
    adapter = DeepgramProvider
    fixtures = FIXTURES
    failures = {
        "bad_request": Failure(400, "errors/bad_request.json"),
        "unauthorized": Failure(401, "errors/unauthorized.json"),
        "rate_limited": Failure(429, "errors/rate_limited.json", {"retry-after": "7"}),
        "server_error": Failure(500, "errors/server_error.json"),
        "unavailable": Failure(503, "errors/unavailable.json"),
    }
    retry_after = 7.0

    def settings(self) -> dict[str, Any]:
        return {
            "id": "deepgram-1",
            "model_name": "nova",
            "provider": "deepgram",
            "upstream_model": "nova-3",
            "api_base": "https://api.deepgram.example/v1",
            "credentials": Credentials(api_key=Secret("dg-test-123")),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def stream_head(self) -> NoReturn:
        pytest.skip("Deepgram serves no chat")

    def embeddings(self, *, wire: str) -> NoReturn:
        pytest.skip("Deepgram serves no embeddings")
