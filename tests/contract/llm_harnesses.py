"""One harness per LLMProvider adapter: each knows how to script a scenario for its adapter (a request
to the offline mock, a canned upstream answer for an HTTP adapter), so the contract tests stay neutral."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.llm.mock import MockProvider
from adapters.llm.mock.errors import MOCK_RETRY_AFTER
from adapters.llm.openai import OpenAIProvider
from domain.completions import CompletionRequest, Usage
from domain.deployments import Credentials, Deployment, Limits, Secret
from domain.embeddings import EmbeddingRequest
from domain.messages import FunctionTool, Message, Role, ToolChoiceMode
from ports.llm_provider import LLMProvider
from tests.fakes import FakeTokenCounter

FIXTURES = Path(__file__).parent / "fixtures" / "openai"
REPLY = "Hello! How can I assist you today?"
WEATHER_TOOL = FunctionTool(
    name="get_current_weather",
    description="Get the current weather in a given location",
    parameters={
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)
TEXTS = ("The food was delicious and the waiter was friendly.", "The service was slow.")


def chat_request(**changes: Any) -> CompletionRequest:
    messages = (Message(Role.SYSTEM, "You are a helpful assistant."), Message(Role.USER, "Hello!"))
    return CompletionRequest(**({"model": "gpt-x", "messages": messages} | changes))


def embedding_request() -> EmbeddingRequest:
    return EmbeddingRequest(model="embed-x", inputs=TEXTS, dimensions=8)


@dataclass(frozen=True)
class Scripted:
    """A request, and what the adapter under test will answer to it."""

    request: CompletionRequest
    text: str | None = None
    tool_name: str | None = None
    arguments: dict[str, Any] | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class ScriptedEmbeddings:
    request: EmbeddingRequest
    dimensions: int
    usage: Usage
    vectors: list[list[float]] | None = None
    """The exact values, when the harness knows them."""


class ProviderHarness(ABC):
    provider: LLMProvider
    deployment: Deployment
    retry_after: float
    """What the scripted rate-limit failure asks to wait, in seconds."""

    @abstractmethod
    def text_reply(self, *, stream: bool) -> Scripted: ...

    @abstractmethod
    def tool_call(self, *, stream: bool) -> Scripted: ...

    @abstractmethod
    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        """`wire` is how an upstream encodes the vectors: "float" or "base64"."""

    @abstractmethod
    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        """A request that fails up front in the way `kind` names (see FAILURES in the tests)."""

    @abstractmethod
    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        """A streamed request that yields some chunks, then fails the way `kind` names."""

    @property
    def upstream_closed(self) -> bool | None:
        """Whether the last upstream reply was closed; None when there is nothing to observe."""
        return None

    async def close(self) -> None:
        return None


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


class RecordingStream(httpx.AsyncByteStream):
    """An upstream body sent in small pieces (cutting lines and events apart), optionally failing after
    them; remembers whether it was closed."""

    def __init__(self, body: bytes, *, piece: int = 7, then: Exception | None = None) -> None:
        self.pieces = [body[i : i + piece] for i in range(0, len(body), piece)]
        self.then = then
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece
        if self.then is not None:
            raise self.then

    async def aclose(self) -> None:
        self.closed = True


Answer = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeUpstream:
    """The other end of an httpx.MockTransport: answers with what the test scripted, records requests."""

    answer: Answer | None = None
    sent: list[httpx.Request] = field(default_factory=list)
    streams: list[RecordingStream] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        assert self.answer is not None, "the test did not script the upstream"
        return self.answer(request)

    def json(self, status: int, fixture: str, headers: dict[str, str] | None = None) -> None:
        body = (FIXTURES / fixture).read_bytes()
        kind = "text/html" if fixture.endswith(".html") else "application/json"
        self.answer = lambda _: httpx.Response(
            status, content=body, headers={"content-type": kind, **(headers or {})}
        )

    def sse(self, body: bytes, *, then: Exception | None = None) -> None:
        def answer(_: httpx.Request) -> httpx.Response:
            stream = RecordingStream(body, then=then)
            self.streams.append(stream)
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=stream)

        self.answer = answer

    def fail(self, exc: Exception) -> None:
        def answer(_: httpx.Request) -> httpx.Response:
            raise exc

        self.answer = answer


class OpenAIHarness(ProviderHarness):
    _STATUS = {
        "bad_request": (400, "errors/invalid_type.json"),
        "context_window": (400, "errors/context_length_exceeded.json"),
        "content_policy": (400, "errors/content_policy_violation.json"),
        "unauthorized": (401, "errors/invalid_api_key.json"),
        "forbidden": (403, "errors/unsupported_country.json"),
        "not_found": (404, "errors/model_not_found.json"),
        "request_timeout": (408, "errors/request_timeout.json"),
        "unprocessable": (422, "errors/unprocessable_entity.json"),
        "rate_limited": (429, "errors/rate_limit_exceeded.json"),
        "server_error": (500, "errors/server_error.json"),
        "bad_gateway": (502, "errors/bad_gateway.html"),
        "unavailable": (503, "errors/overloaded.json"),
    }
    _RATE_LIMIT_HEADERS = {
        "retry-after": "7",
        "x-ratelimit-limit-tokens": "200000",
        "x-ratelimit-remaining-tokens": "147",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-reset-tokens": "81ms",
    }
    retry_after = 7.0

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream()
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.upstream))
        self.provider = OpenAIProvider(self.client)
        settings: dict[str, Any] = {
            "id": "openai-1",
            "model_name": "gpt-x",
            "provider": "openai",
            "upstream_model": "gpt-4o-mini",
            "api_base": "https://api.openai.example/v1",
            "credentials": Credentials(api_key=Secret("sk-test-123"), extra={"organization": "org-test"}),
            "limits": Limits(timeout=30.0, stream_timeout=5.0, connect_timeout=2.0),
        }
        self.deployment = Deployment(**(settings | deployment_changes))

    def text_reply(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "chat_stream.sse").read_bytes())
        else:
            self.upstream.json(200, "chat_completion.json")
        request = chat_request(stream=stream, include_usage=stream)
        return Scripted(request, text=REPLY, usage=Usage(prompt_tokens=19, completion_tokens=10))

    def tool_call(self, *, stream: bool) -> Scripted:
        if stream:
            self.upstream.sse((FIXTURES / "chat_stream_tool_calls.sse").read_bytes())
        else:
            self.upstream.json(200, "chat_completion_tool_calls.json")
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        arguments = {"location": "Boston, MA"}
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments=arguments, usage=Usage(82, 17))

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        self.upstream.json(200, f"embeddings_{wire}.json")
        floats = json.loads((FIXTURES / "embeddings_float.json").read_text())
        vectors = [item["embedding"] for item in floats["data"]]
        return ScriptedEmbeddings(embedding_request(), dimensions=8, usage=Usage(12), vectors=vectors)

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind in self._STATUS:
            status, fixture = self._STATUS[kind]
            headers = self._RATE_LIMIT_HEADERS if kind == "rate_limited" else None
            self.upstream.json(status, fixture, headers)
        elif kind == "connection_refused":
            self.upstream.fail(httpx.ConnectError("[Errno 111] Connection refused"))
        elif kind == "connection_reset":
            self.upstream.fail(httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.fail(httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_body":
            body = b'{"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "cre'
            self.upstream.answer = lambda _: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        # Cut the stream after its first few events; the role and a word or two have gone out by then.
        text = (FIXTURES / "chat_stream.sse").read_bytes()
        head = b"\n\n".join(text.split(b"\n\n")[:3]) + b"\n\n"
        if kind == "error_event":
            self.upstream.sse((FIXTURES / "chat_stream_error_event.sse").read_bytes())
        elif kind == "connection_reset":
            self.upstream.sse(head, then=httpx.ReadError("[Errno 104] Connection reset by peer"))
        elif kind == "read_timeout":
            self.upstream.sse(head, then=httpx.ReadTimeout("The read operation timed out"))
        elif kind == "malformed_chunk":
            self.upstream.sse(head + b'data: {"id":"chatcmpl-BdWf2Yb8","object":"chat.comp\n\n')
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()
