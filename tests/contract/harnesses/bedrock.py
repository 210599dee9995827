"""The harness of the Bedrock adapter: an httpx.MockTransport upstream answering Bedrock's Converse,
ConverseStream (binary event stream) and InvokeModel wire formats."""

from __future__ import annotations

import functools
import json
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from adapters.llm.bedrock import BedrockProvider
from domain.completions import Usage
from domain.deployments import Credentials, Deployment, Limits
from domain.embeddings import EmbeddingRequest
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    TEXTS,
    Failure,
    HttpHarness,
    Reply,
    ScriptedEmbeddings,
)

FIXTURES = FIXTURES_ROOT / "bedrock"
EVENT_STREAM = "application/vnd.amazon.eventstream"
REQUEST_ID = "b2d36f8e-3a9b-4c1d-8e7f-2a1b0c9d8e7f"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event stream message with string headers, as AWS encodes it."""
    encoded = b""
    for name, value in headers.items():
        raw = value.encode()
        encoded += bytes((len(name),)) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return head + struct.pack(">I", zlib.crc32(head))


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(payload, separators=(",", ":")).encode())


def exception(exception_type: str, payload: dict[str, Any]) -> bytes:
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps(payload).encode())


def event_stream(fixture: str | Path) -> bytes:
    """A `.jsonl` fixture (one event or exception per line) as the bytes Bedrock sends."""
    path = fixture if isinstance(fixture, Path) else FIXTURES / fixture
    out = b""
    for line in path.read_text().splitlines():
        item = json.loads(line)
        if "exception" in item:
            out += exception(item["exception"], item["payload"])
        else:
            out += event(item["event"], item["payload"])
    return out


def error_headers(error_type: str) -> dict[str, str]:
    return {
        "x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-requestid": REQUEST_ID,
    }


class BedrockHarness(HttpHarness):
    adapter = functools.partial(BedrockProvider, environ={})
    fixtures = FIXTURES
    text = Reply("converse_stream.jsonl", "converse.json", Usage(prompt_tokens=19, completion_tokens=10))
    tool = Reply("converse_stream_tool_use.jsonl", "converse_tool_use.json", Usage(382, 71))
    failures = {
        "bad_request": Failure(400, "errors/validation.json", error_headers("ValidationException")),
        "context_window": Failure(400, "errors/input_too_long.json", error_headers("ValidationException")),
        "content_policy": Failure(400, "errors/content_filtered.json", error_headers("ValidationException")),
        "unauthorized": Failure(
            403, "errors/unrecognized_client.json", error_headers("UnrecognizedClientException")
        ),
        "forbidden": Failure(403, "errors/access_denied.json", error_headers("AccessDeniedException")),
        "not_found": Failure(
            404, "errors/resource_not_found.json", error_headers("ResourceNotFoundException")
        ),
        "request_timeout": Failure(408, "errors/model_timeout.json", error_headers("ModelTimeoutException")),
        "rate_limited": Failure(429, "errors/throttling.json", error_headers("ThrottlingException")),
        "server_error": Failure(500, "errors/internal_server.json", error_headers("InternalServerException")),
        "bad_gateway": Failure(502, "errors/bad_gateway.html"),
        "unavailable": Failure(
            503, "errors/service_unavailable.json", error_headers("ServiceUnavailableException")
        ),
    }
    unscripted = {
        "unprocessable": "Bedrock never answers 422; its model errors are 424 (mapped to bad_gateway)"
    }
    retry_after = None  # Bedrock's ThrottlingException carries no Retry-After
    malformed_body = b'{"metrics":{"latencyMs":1175},"output":{"message":{"role":"assistant","content":[{"te'
    error_stream = "converse_stream_exception.jsonl"

    def settings(self) -> dict[str, Any]:
        return {
            "id": "bedrock-1",
            "model_name": "claude-x",
            "provider": "bedrock",
            "upstream_model": CLAUDE,
            "credentials": Credentials(
                extra={
                    "aws_access_key_id": ACCESS_KEY,
                    "aws_secret_access_key": SECRET_KEY,
                    "aws_region_name": "us-east-1",
                }
            ),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }

    def answer_json(self, status: int, fixture: str | Path, headers: Mapping[str, str] | None = None) -> None:
        self.upstream.json(status, fixture, {"x-amzn-requestid": REQUEST_ID, **(headers or {})})

    def answer_stream(self, body: bytes, *, then: Exception | None = None) -> None:
        headers = {"content-type": EVENT_STREAM, "x-amzn-requestid": REQUEST_ID}
        self.upstream.stream(body, then=then, headers=headers)

    def stream_body(self, fixture: str | Path) -> bytes:
        return event_stream(fixture)

    def stream_head(self) -> bytes:
        lines = (FIXTURES / "converse_stream.jsonl").read_text().splitlines()
        return b"".join(event(**_event(line)) for line in lines[:2])

    @property
    def malformed_event(self) -> bytes:  # type: ignore[override]
        # The third message arrives with one payload byte flipped: its CRC no longer holds.
        lines = (FIXTURES / "converse_stream.jsonl").read_text().splitlines()
        third = bytearray(event(**_event(lines[2])))
        third[-8] ^= 0xFF
        return bytes(third) + event_stream("converse_stream.jsonl")

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        if wire == "base64":
            pytest.skip("Bedrock's embedding models answer float lists only")
        self.deployment = Deployment(
            id="bedrock-embed-1",
            model_name="embed-x",
            provider="bedrock",
            upstream_model="cohere.embed-v4:0",
            credentials=self.deployment.credentials,
        )
        self.answer_json(200, "cohere_embeddings_by_type.json", {"x-amzn-bedrock-input-token-count": "12"})
        vectors = json.loads((FIXTURES / "cohere_embeddings_by_type.json").read_text())["embeddings"]["float"]
        request = EmbeddingRequest(model="embed-x", inputs=TEXTS, dimensions=8)
        return ScriptedEmbeddings(request, dimensions=8, usage=Usage(12), vectors=vectors)


def _event(line: str) -> dict[str, Any]:
    item = json.loads(line)
    return {"event_type": item["event"], "payload": item["payload"]}


HARNESSES = {"bedrock": BedrockHarness}
