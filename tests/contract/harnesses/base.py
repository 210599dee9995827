"""What every harness shares: the scenarios of the contract suite, and a scripted HTTP upstream.

One harness per LLMProvider adapter, one module per adapter in this package, each exporting
`HARNESSES = {"name": HarnessClass}`: a harness knows how to script a scenario for its adapter (a
request to the offline mock, a canned upstream answer for an HTTP adapter), so the tests stay neutral.
An HTTP adapter's harness extends HttpHarness and declares only its fixtures."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

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

    def json(self, status: int, fixture: str | Path, headers: Mapping[str, str] | None = None) -> None:
        body = (self.fixtures / fixture).read_bytes()
        kind = "text/html" if str(fixture).endswith(".html") else "application/json"
        self.answer = lambda _: httpx.Response(
            status, content=body, headers={"content-type": kind, **(headers or {})}
        )

    def sse(self, body: bytes, *, then: Exception | None = None) -> None:
        self.stream(body, then=then, headers={"content-type": "text/event-stream"})

    def stream(self, body: bytes, *, headers: Mapping[str, str], then: Exception | None = None) -> None:
        """Answers with `body` streamed in small pieces, then `then` raised if given."""

        def answer(_: httpx.Request) -> httpx.Response:
            stream = RecordingStream(body, then=then)
            self.streams.append(stream)
            return httpx.Response(200, headers=headers, stream=stream)

        self.answer = answer

    def fail(self, exc: Exception) -> None:
        def answer(_: httpx.Request) -> httpx.Response:
            raise exc

        self.answer = answer


@dataclass(frozen=True)
class Reply:
    """A scripted reply: the fixture of its stream and of its whole body, and the usage they report."""

    streamed: str | Path
    whole: str | Path
    usage: Usage
    streamed_usage: Usage | None = None
    """What the stream reports, where it is not `usage`."""


@dataclass(frozen=True)
class Failure:
    """An upstream's answer to a failed call: its status, the fixture of its body, its headers."""

    status: int
    fixture: str | Path
    headers: Mapping[str, str] | None = None


DROPPED: dict[str, Callable[[], Exception]] = {
    "connection_reset": lambda: httpx.ReadError("[Errno 104] Connection reset by peer"),
    "read_timeout": lambda: httpx.ReadTimeout("The read operation timed out"),
}
"""The failures of a connection that was open, up front or mid-stream, by the names the tests use."""
UNREACHABLE: dict[str, Callable[[], Exception]] = {
    "connection_refused": lambda: httpx.ConnectError("[Errno 111] Connection refused"),
    **DROPPED,
}


class HttpHarness(ProviderHarness):
    """The harness of an adapter that calls its upstream over HTTP: a FakeUpstream behind an
    httpx.MockTransport, answering from the adapter's fixtures. A harness declares its adapter, its
    deployment and the fixtures of its scenarios; the failures are scripted here from those."""

    adapter: ClassVar[Callable[[httpx.AsyncClient], LLMProvider]]
    fixtures: ClassVar[Path]
    text: ClassVar[Reply]
    """The reply of REPLY, as text."""
    tool: ClassVar[Reply]
    """The reply calling WEATHER_TOOL with {"location": "Boston, MA"}."""
    failures: ClassVar[Mapping[str, Failure]]
    """The upstream's answer to each failure of FAILURES (test_llm_provider.py) it answers with a status."""
    unscripted: ClassVar[Mapping[str, str]] = {}
    """The failures the provider has no way to answer with, and why."""
    malformed_body: ClassVar[bytes]
    """A reply cut off mid-way, answering 200 as JSON."""
    error_stream: ClassVar[str]
    """The fixture of a stream that sends some chunks, then an error event."""
    malformed_event: bytes
    """What follows the head of a stream (`stream_head`) to break it: an event cut off mid-way."""

    def __init__(self, **deployment_changes: Any) -> None:
        self.upstream = FakeUpstream(fixtures=self.fixtures)
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.route))
        self.provider = self.adapter(self.client)
        self.deployment = Deployment(**(self.settings() | deployment_changes))

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The deployment's fields, before a test's changes."""

    @abstractmethod
    def stream_head(self) -> bytes:
        """The first events of a streamed text reply: the role and a word or two."""

    def route(self, request: httpx.Request) -> httpx.Response:
        """Where the MockTransport sends each request: to the scripted upstream."""
        return self.upstream(request)

    def answer_json(self, status: int, fixture: str | Path, headers: Mapping[str, str] | None = None) -> None:
        """Scripts a whole answer with the body of `fixture`."""
        self.upstream.json(status, fixture, headers)

    def answer_stream(self, body: bytes, *, then: Exception | None = None) -> None:
        """Scripts a streamed answer of `body`, in the upstream's stream format."""
        self.upstream.sse(body, then=then)

    def stream_body(self, fixture: str | Path) -> bytes:
        """The bytes of a stream fixture, as the upstream sends them."""
        return (self.fixtures / fixture).read_bytes()

    def answer(self, reply: Reply, *, stream: bool) -> Usage:
        """Scripts `reply`, streamed or whole; returns the usage it reports."""
        if stream:
            self.answer_stream(self.stream_body(reply.streamed))
            return reply.streamed_usage or reply.usage
        self.answer_json(200, reply.whole)
        return reply.usage

    def text_reply(self, *, stream: bool) -> Scripted:
        usage = self.answer(self.text, stream=stream)
        return Scripted(chat_request(stream=stream, include_usage=stream), text=REPLY, usage=usage)

    def tool_call(self, *, stream: bool) -> Scripted:
        usage = self.answer(self.tool, stream=stream)
        request = chat_request(tools=(WEATHER_TOOL,), stream=stream, include_usage=stream)
        arguments = {"location": "Boston, MA"}
        return Scripted(request, tool_name=WEATHER_TOOL.name, arguments=arguments, usage=usage)

    def first_events(self, fixture: str, count: int, separator: bytes = b"\n\n") -> bytes:
        """The first `count` server-sent events of a stream fixture."""
        events = (self.fixtures / fixture).read_bytes().split(separator)
        return separator.join(events[:count]) + separator

    def failure(self, kind: str, *, stream: bool) -> CompletionRequest:
        if kind in self.unscripted:
            pytest.skip(self.unscripted[kind])
        if kind in self.failures:
            failure = self.failures[kind]
            self.answer_json(failure.status, failure.fixture, failure.headers)
        elif kind in UNREACHABLE:
            self.upstream.fail(UNREACHABLE[kind]())
        elif kind == "malformed_body":
            body = self.malformed_body
            self.upstream.answer = lambda _: httpx.Response(
                200, content=body, headers={"content-type": "application/json"}
            )
        else:
            raise AssertionError(f"unknown failure {kind}")
        return chat_request(stream=stream, include_usage=stream)

    def failure_mid_stream(self, kind: str) -> CompletionRequest:
        head = self.stream_head()
        if kind == "error_event":
            self.answer_stream(self.stream_body(self.error_stream))
        elif kind in DROPPED:
            self.answer_stream(head, then=DROPPED[kind]())
        elif kind == "malformed_chunk":
            self.answer_stream(head + self.malformed_event)
        else:
            raise AssertionError(f"unknown mid-stream failure {kind}")
        return chat_request(stream=True, include_usage=True)

    @property
    def upstream_closed(self) -> bool | None:
        return self.upstream.streams[-1].closed if self.upstream.streams else None

    async def close(self) -> None:
        await self.client.aclose()
