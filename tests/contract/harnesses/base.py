"""What every harness shares: the scenarios of the contract suite, and a scripted HTTP upstream.

One harness per LLMProvider adapter, one module per adapter in this package, each exporting
`HARNESSES = {"name": HarnessClass}`: a harness knows how to script a scenario for its adapter (a
request to the offline mock, a canned upstream answer for an HTTP adapter), so the tests stay neutral."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from domain.completions import CompletionRequest, Usage
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest
from domain.messages import FunctionTool, Message, Role
from ports.llm_provider import LLMProvider

FIXTURES_ROOT = Path(__file__).parents[1] / "fixtures"
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

    fixtures: Path = FIXTURES_ROOT / "openai"

    def json(self, status: int, fixture: str, headers: dict[str, str] | None = None) -> None:
        body = (self.fixtures / fixture).read_bytes()
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
