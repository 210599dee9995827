"""The harnesses of models that Vertex AI and Bedrock serve in another provider's format: Claude in
Vertex AI's envelope (Anthropic's replies and SSE, an OAuth token) and in Bedrock InvokeModel's
(Anthropic's replies, the stream's events inside an AWS event stream, AWS's errors); Vertex's partner
models in OpenAI's format."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from adapters.llm.anthropic.vertex import VertexAnthropicProvider
from adapters.llm.bedrock.invoke import BedrockAnthropicProvider
from adapters.llm.gemini.partners import VertexPartnerProvider
from domain.deployments import Credentials
from tests.contract.harnesses import bedrock
from tests.contract.harnesses.anthropic import FIXTURES, AnthropicHarness
from tests.contract.harnesses.base import Failure, HttpHarness, ScriptedEmbeddings
from tests.contract.harnesses.gemini import FIXTURES as GOOGLE_FIXTURES
from tests.contract.harnesses.gemini import TOKEN_HOST, USER_CREDENTIALS
from tests.contract.harnesses.openai import OpenAIHarness

VERTEX_CLAUDE = "claude-sonnet-4-5@20250929"
BEDROCK_CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


class OnVertex(HttpHarness):
    """A Vertex AI deployment of `model` (its token from Google's token endpoint, answered here)."""

    model: ClassVar[str]
    unauthorized: ClassVar[Failure] = Failure(401, GOOGLE_FIXTURES / "errors/unauthenticated.json")

    def settings(self) -> dict[str, Any]:
        extra = {
            "vertex_project": "switchyard-test",
            "vertex_location": "us-east5",
            "vertex_credentials": USER_CREDENTIALS,
        }
        return super().settings() | {
            "id": f"vertex-{self.model}",
            "provider": "vertex_ai",
            "upstream_model": self.model,
            "api_base": None,
            "credentials": Credentials(extra=extra),
        }

    def route(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == TOKEN_HOST:
            body = (GOOGLE_FIXTURES / "token.json").read_bytes()
            return httpx.Response(200, content=body, headers={"content-type": "application/json"})
        return self.upstream(request)


class VertexClaudeHarness(OnVertex, AnthropicHarness):
    """Claude's own errors come in Anthropic's shape through Vertex; a refused token in Google's."""

    adapter = VertexAnthropicProvider
    model = VERTEX_CLAUDE
    failures = AnthropicHarness.failures | {"unauthorized": OnVertex.unauthorized}


class VertexPartnerHarness(OnVertex, OpenAIHarness):
    """Llama at Vertex's OpenAI-compatible endpoint: OpenAI's replies and streams."""

    adapter = VertexPartnerProvider
    model = "meta/llama-3.3-70b-instruct-maas"
    failures = OpenAIHarness.failures | {"unauthorized": OnVertex.unauthorized}

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        pytest.skip("Vertex's partner models serve no embeddings")


class BedrockClaudeHarness(AnthropicHarness):
    """The stream fixtures are Anthropic's SSE, sent as Bedrock sends them: each event's JSON base64'd
    in a `chunk` message; errors are AWS's (the Converse harness's)."""

    adapter = BedrockAnthropicProvider
    failures = bedrock.BedrockHarness.failures
    unscripted = bedrock.BedrockHarness.unscripted
    retry_after = None
    error_stream = "stream_exception"

    def settings(self) -> dict[str, Any]:
        return super().settings() | {
            "id": "bedrock-claude-1",
            "provider": "bedrock",
            "upstream_model": f"invoke/{BEDROCK_CLAUDE}",
            "api_base": None,
            "credentials": Credentials(
                extra={
                    "aws_access_key_id": bedrock.ACCESS_KEY,
                    "aws_secret_access_key": bedrock.SECRET_KEY,
                    "aws_region_name": "us-east-1",
                }
            ),
        }

    def answer_json(self, status: int, fixture: str | Path, headers: Mapping[str, str] | None = None) -> None:
        headers = {"x-amzn-requestid": bedrock.REQUEST_ID, **(headers or {})}
        self.upstream.json(status, fixture if status < 300 else bedrock.FIXTURES / fixture, headers)

    def answer_stream(self, body: bytes, *, then: Exception | None = None) -> None:
        headers = {"content-type": bedrock.EVENT_STREAM, "x-amzn-requestid": bedrock.REQUEST_ID}
        self.upstream.stream(body, then=then, headers=headers)

    def stream_body(self, fixture: str | Path) -> bytes:
        if fixture == self.error_stream:
            internal = bedrock.exception("internalServerException", {"message": "Internal server error"})
            return self.stream_head() + internal
        return chunks((FIXTURES / fixture).read_bytes())

    def stream_head(self) -> bytes:
        return chunks(self.first_events("stream.sse", 4))

    @property
    def malformed_event(self) -> bytes:  # type: ignore[override]
        # A chunk whose bytes are not base64 of an event.
        return bedrock.event("chunk", {"bytes": "not base64 at all!"})


def chunks(sse: bytes) -> bytes:
    """Anthropic's SSE as Bedrock's InvokeModelWithResponseStream sends it: a `chunk` per event."""
    out = b""
    for block in sse.strip().split(b"\n\n"):
        data = next(line[5:].strip() for line in block.split(b"\n") if line.startswith(b"data:"))
        out += bedrock.event("chunk", {"bytes": base64.b64encode(data).decode()})
    return out


HARNESSES = {
    "anthropic-vertex": VertexClaudeHarness,
    "anthropic-bedrock-invoke": BedrockClaudeHarness,
    "vertex-partner": VertexPartnerHarness,
}
