"""The harness of the offline mock provider: scenarios are requests carrying `mock_response`."""

from __future__ import annotations

import pytest

from adapters.llm.mock import MockProvider
from adapters.llm.mock.errors import MOCK_RETRY_AFTER
from domain.completions import CompletionRequest, Usage
from domain.deployments import Deployment
from domain.messages import ToolChoiceMode
from tests.contract.harnesses.base import (
    REPLY,
    TEXTS,
    WEATHER_TOOL,
    ProviderHarness,
    Scripted,
    ScriptedEmbeddings,
    chat_request,
    embedding_request,
)
from tests.fakes import FakeTokenCounter


class MockHarness(ProviderHarness):
    _ERRORS = {
        "bad_request": "litellm.BadRequestError",
        "context_window": "litellm.ContextWindowExceededError",
        "content_policy": "litellm.ContentPolicyViolationError",
        "unauthorized": "litellm.AuthenticationError",
        "forbidden": "litellm.PermissionDeniedError",
        "not_found": "litellm.NotFoundError",
        "request_timeout": "litellm.Timeout",
        "unprocessable": "litellm.UnprocessableEntityError",
        "rate_limited": "litellm.RateLimitError",
        "server_error": "litellm.InternalServerError",
        "bad_gateway": "switchyard.BadGatewayError",
        "unavailable": "litellm.ServiceUnavailableError",
        "connection_refused": "litellm.APIConnectionError",
        "connection_reset": "switchyard.APIConnectionError: connection reset by peer",
        "read_timeout": "switchyard.TimeoutError",
        "malformed_body": "switchyard.BadGatewayError: the upstream sent garbage",
    }
    retry_after = MOCK_RETRY_AFTER

    def __init__(self) -> None:
        self.counter = FakeTokenCounter()
        self.provider = MockProvider(self.counter)
        self.deployment = Deployment(id="mock-1", model_name="gpt-x", provider="mock", upstream_model="demo")

    def text_reply(self, *, stream: bool) -> Scripted:
        request = chat_request(mock_response=REPLY, stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=self._usage(request, REPLY))

    def tool_call(self, *, stream: bool) -> Scripted:
        request = chat_request(
            tools=(WEATHER_TOOL,), tool_choice=ToolChoiceMode.REQUIRED, stream=stream, include_usage=stream
        )
        # The mock fills in the schema's required properties with the simplest values they accept.
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments={"location": ""})

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        tokens = sum(self.counter.count_text(text, "demo") for text in TEXTS)
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(prompt_tokens=tokens))

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        return chat_request(mock_response=self._ERRORS[kind], stream=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        pytest.skip("the mock provider fails only up front")

    def _usage(self, request: CompletionRequest, reply: str) -> Usage:
        prompt = self.counter.count_messages(request.messages, "demo", request.tools)
        return Usage(prompt_tokens=prompt, completion_tokens=self.counter.count_text(reply, "demo"))


HARNESSES = {"mock": MockHarness}
