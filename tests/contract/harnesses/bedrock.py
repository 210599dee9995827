"""The harness of the Bedrock adapter: an httpx.MockTransport upstream answering Bedrock's Converse,
ConverseStream (binary event stream) and InvokeModel wire formats."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.llm.bedrock import BedrockProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Credentials, Deployment, Limits
from domain.embeddings import EmbeddingRequest
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    REPLY,
    TEXTS,
    WEATHER_TOOL,
    FakeUpstream,
    ProviderHarness,
    RecordingStream,
    Scripted,
    ScriptedEmbeddings,
    chat_request,
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


class BedrockHarness(ProviderHarness):
    _STATUS = {
        "bad_request": (400, "ValidationException", "errors/validation.json"),
        "context_window": (400, "ValidationException", "errors/input_too_long.json"),
        "content_policy": (400, "ValidationException", "errors/content_filtered.json"),
        "unauthorized": (403, "UnrecognizedClientException", "errors/unrecognized_client.json"),
        "forbidden": (403, "AccessDeniedException", "errors/access_denied.json"),
        "not_found": (404, "ResourceNotFoundException", "errors/resource_not_found.json"),
        "request_timeout": (408, "ModelTimeoutException", "errors/model_timeout.json"),
        "rate_limited": (429, "ThrottlingException", "errors/throttling.json"),
        "server_error": (500, "InternalServerException", "errors/internal_server.json"),
        "unavailable": (503, "ServiceUnavailableException", "errors/service_unavailable.json"),
    }
    retry_after = None  # Bedrock's ThrottlingException carries no Retry-After

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream(fixtures=FIXTURES)
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.upstream))
        self.provider = BedrockProvider(self.client, environ={})
        settings: dict[str, Any] = {
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
        self.deployment = Deployment(**(settings | deployment_changes))

    def reply(self, status: int, fixture: str, headers: dict[str, str] | None = None) -> None:
        body = (FIXTURES / fixture).read_bytes()
        kind = "text/html" if fixture.endswith(".html") else "application/json"
        all_headers = {"content-type": kind, "x-amzn-requestid": REQUEST_ID, **(headers or {})}
        self.upstream.answer = lambda _: httpx.Response(status, content=body, headers=all_headers)

    def stream_reply(self, body: bytes, *, then: Exception | None = None) -> None:
        def answer(_: httpx.Request) -> httpx.Response:
            stream = RecordingStream(body, then=then)
            self.upstream.streams.append(stream)
            headers = {"content-type": EVENT_STREAM, "x-amzn-requestid": REQUEST_ID}
            return httpx.Response(200, headers=headers, stream=stream)

        self.upstream.answer = answer

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            self.stream_reply(event_stream("converse_stream.jsonl"))
        else:
            self.reply(200, "converse.json")
        request = chat_request(stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=Usage(prompt_tokens=19, completion_tokens=10))

    def tool_call(self, *, stream: bool) -> Scripted:
        if stream:
            self.stream_reply(event_stream("converse_stream_tool_use.jsonl"))
        else:
            self.reply(200, "converse_tool_use.json")
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        arguments = {"location": "Boston, MA"}
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments=arguments, usage=Usage(382, 71))

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
        self.reply(200, "cohere_embeddings_by_type.json", {"x-amzn-bedrock-input-token-count": "12"})
        vectors = json.loads((FIXTURES / "cohere_embeddings_by_type.json").read_text())["embeddings"]["float"]
        request = EmbeddingRequest(model="embed-x", inputs=TEXTS, dimensions=8)
        return ScriptedEmbeddings(request, dimensions=8, usage=Usage(12), vectors=vectors)

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind in self._STATUS:
            status, error_type, fixture = self._STATUS[kind]
            self.reply(status, fixture, error_headers(error_type))
        elif kind == "bad_gateway":
            self.reply(502, "errors/bad_gateway.html")
        elif kind == "unprocessable":
            pytest.skip("Bedrock never answers 422; its model errors are 424 (mapped to bad_gateway)")
        elif kind == "connection_refused":
            self.upstream.fail(httpx.ConnectError("[Errno 111] Connection refused"))
        elif kind == "connection_reset":
            self.upstream.fail(httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.fail(httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_body":
            body = b'{"metrics":{"latencyMs":1175},"output":{"message":{"role":"assistant","content":[{"te'
            headers = {"content-type": "application/json"}
            self.upstream.answer = lambda _: httpx.Response(200, content=body, headers=headers)
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        head = event_stream("converse_stream.jsonl")
        lines = (FIXTURES / "converse_stream.jsonl").read_text().splitlines()
        first_two = b"".join(event(**_event(line)) for line in lines[:2])
        if kind == "error_event":
            self.stream_reply(event_stream("converse_stream_exception.jsonl"))
        elif kind == "connection_reset":
            self.stream_reply(first_two, then=httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.stream_reply(first_two, then=httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_chunk":
            # The third message arrives with one payload byte flipped: its CRC no longer holds.
            third = bytearray(event(**_event(lines[2])))
            third[-8] ^= 0xFF
            self.stream_reply(first_two + bytes(third) + head)
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()


def _event(line: str) -> dict[str, Any]:
    item = json.loads(line)
    return {"event_type": item["event"], "payload": item["payload"]}


HARNESSES = {"bedrock": BedrockHarness}
