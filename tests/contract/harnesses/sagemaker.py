"""The harnesses of the SageMaker adapters: an httpx.MockTransport upstream answering SageMaker Runtime's
InvokeEndpoint (the container's JSON) and InvokeEndpointWithResponseStream (an AWS event stream whose
PayloadPart events carry the container's SSE, cut anywhere), for a TGI endpoint and an OpenAI-format one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.llm.sagemaker import SageMakerChatProvider, SageMakerProvider
from domain.completions import CompletionRequest, Usage
from tests.contract.harnesses.base import (
    FIXTURES_ROOT,
    Failure,
    HttpHarness,
    Reply,
    Scripted,
    chat_request,
)
from tests.contract.harnesses.bedrock import REQUEST_ID, BedrockHarness, frame

FIXTURES = FIXTURES_ROOT / "sagemaker"
OPENAI_FIXTURES = FIXTURES_ROOT / "openai"
_TYPES: dict[str, str] = json.loads((FIXTURES / "errors/types.json").read_text())
PART = 23
"""Bytes of the container's stream per PayloadPart: events are cut apart, as SageMaker does."""


def payload_parts(body: bytes, piece: int = PART) -> bytes:
    """The container's stream as SageMaker sends it: PayloadPart events of `piece` bytes each."""
    headers = {
        ":event-type": "PayloadPart",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    return b"".join(frame(headers, body[i : i + piece]) for i in range(0, len(body), piece))


def stream_exception(exception_type: str, message: str) -> bytes:
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"Message": message}).encode())


def failure(status: int, fixture: str) -> Failure:
    headers = {
        "x-amzn-errortype": f"{_TYPES[fixture]}:http://internal.amazon.com/coral/com.amazon.sagemaker/"
    }
    return Failure(status, f"errors/{fixture}", headers | {"x-amzn-requestid": REQUEST_ID})


class SageMakerHarness(HttpHarness):
    """A Hugging Face TGI container behind a SageMaker endpoint."""

    adapter = SageMakerProvider
    fixtures = FIXTURES
    text = Reply(
        "generate_stream.sse",
        "generate.json",
        Usage(prompt_tokens=19, completion_tokens=10),
        streamed_usage=Usage(prompt_tokens=0, completion_tokens=10),  # TGI counts no prefill on a stream
    )
    failures = {
        "bad_request": failure(400, "validation.json"),
        "context_window": failure(424, "model_error_context.json"),
        "unauthorized": failure(403, "unrecognized_client.json"),
        "forbidden": failure(403, "access_denied.json"),
        "not_found": failure(400, "endpoint_not_found.json"),
        "request_timeout": failure(424, "model_error_timeout.json"),
        "unprocessable": failure(424, "model_error_validation.json"),
        "rate_limited": failure(400, "throttling.json"),
        "server_error": failure(500, "internal_failure.json"),
        "bad_gateway": Failure(502, "errors/bad_gateway.html"),
        "unavailable": failure(503, "service_unavailable.json"),
    }
    unscripted = {"content_policy": "SageMaker has no content-policy error: the model's container answers"}
    retry_after = None  # SageMaker's ThrottlingException carries no Retry-After
    malformed_body = b'[{"generated_text": "Hello! How can I assist you today?", "details": {"fin'
    head_events = 3

    # Signed and answered as Bedrock's runtime is: the same keys, request ids and event-stream replies.
    answer_json = BedrockHarness.answer_json
    answer_stream = BedrockHarness.answer_stream

    def settings(self) -> dict[str, Any]:
        changes = {"id": "sagemaker-1", "model_name": "llama-tgi", "provider": "sagemaker"}
        return BedrockHarness.settings(self) | changes | {"upstream_model": "tgi-llama-3-8b"}

    def stream_body(self, fixture: str | Path) -> bytes:
        return payload_parts((self.fixtures / fixture).read_bytes())

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        """SageMaker's own failure mid-stream: an exception event after the head of the reply."""
        if kind != "error_event":
            return super().failure_mid_stream(kind)
        failed = stream_exception("InternalStreamFailure", "The stream processing failed: unknown error.")
        self.answer_stream(self.stream_head() + failed)
        return chat_request(stream=True, include_usage=True)

    def _head_sse(self) -> bytes:
        events = (self.fixtures / self.text.streamed).read_bytes().split(b"\n\n")
        return b"\n\n".join(events[: self.head_events]) + b"\n\n"

    def stream_head(self) -> bytes:
        return payload_parts(self._head_sse())

    @property
    def malformed_event(self) -> bytes:  # type: ignore[override]
        return payload_parts(b'data:{"index":4,"token":{"id":103,"te\n\n')

    def tool_call(self, *, stream: bool) -> Scripted:
        pytest.skip("TGI's generate format has no tools: use sagemaker_chat for a Messages API endpoint")

    def embeddings(self, *, wire: str) -> Any:
        pytest.skip("SageMaker embedding endpoints are not served yet")


class SageMakerChatHarness(SageMakerHarness):
    """A container with the Messages API (OpenAI's chat completions) behind a SageMaker endpoint."""

    adapter = SageMakerChatProvider
    fixtures = OPENAI_FIXTURES
    text = Reply("chat_stream.sse", "chat_completion.json", Usage(prompt_tokens=19, completion_tokens=10))
    tool = Reply("chat_stream_tool_calls.sse", "chat_completion_tool_calls.json", Usage(82, 17))
    failures = {
        name: Failure(found.status, FIXTURES / found.fixture, found.headers)
        for name, found in SageMakerHarness.failures.items()
    }
    malformed_body = b'{"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "cre'
    error_stream = "chat_stream_error_event.sse"

    def settings(self) -> dict[str, Any]:
        return super().settings() | {
            "id": "sagemaker-chat-1",
            "provider": "sagemaker_chat",
            "upstream_model": "vllm-llama-3-8b",
        }

    @property
    def malformed_event(self) -> bytes:  # type: ignore[override]
        return payload_parts(b'data: {"id":"chatcmpl-BdWf2Yb8","object":"chat.comp\n\n')

    # The container's own error event (OpenAI's shape) inside the payload parts.
    failure_mid_stream = HttpHarness.failure_mid_stream
    tool_call = HttpHarness.tool_call

    def embeddings(self, *, wire: str) -> Any:
        pytest.skip("SageMaker embedding endpoints are not served yet")


HARNESSES = {"sagemaker": SageMakerHarness, "sagemaker_chat": SageMakerChatHarness}
