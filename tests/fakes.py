"""Test doubles for the ports: they subclass the port and record what happened."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

from domain.calls import CallRecord
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Delta,
    FinishReason,
    Usage,
)
from domain.deployments import Deployment
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.guardrails import ALLOW, GuardrailMode, Inspection, Verdict
from domain.messages import FunctionTool, Message, Role
from ports.clock import Clock
from ports.guardrail import Guardrail
from ports.llm_provider import ChunkStream, LLMProvider
from ports.telemetry import Telemetry
from ports.token_counter import TokenCounter


def reply(text: str, *, model: str = "fake-model", usage: Usage | None = None) -> CompletionResponse:
    return CompletionResponse(
        id="chatcmpl-fake",
        created=1700000000,
        model=model,
        choices=(Choice(0, Message(Role.ASSISTANT, text), FinishReason.STOP),),
        usage=usage or Usage(prompt_tokens=5, completion_tokens=2),
    )


STREAM_USAGE = Usage(5, 2)


def chunks_of(text: str, *, usage: Usage | None = STREAM_USAGE) -> list[CompletionChunk]:
    head = dict(id="chatcmpl-fake", created=1700000000, model="fake-model")
    chunks = [CompletionChunk(**head, choices=(ChunkChoice(0, Delta(role="assistant", content="")),))]
    chunks += [
        CompletionChunk(**head, choices=(ChunkChoice(0, Delta(content=word)),)) for word in text.split()
    ]
    chunks.append(CompletionChunk(**head, choices=(ChunkChoice(0, Delta(), FinishReason.STOP),)))
    if usage is not None:
        chunks.append(CompletionChunk(**head, usage=usage))
    return chunks


class FakeChunkStream(ChunkStream):
    def __init__(self, chunks: Sequence[CompletionChunk | Exception]) -> None:
        self._chunks = list(chunks)
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        for item in self._chunks:
            if isinstance(item, Exception):
                raise item
            yield item

    async def aclose(self) -> None:
        self.closed = True


class FakeLLMProvider(LLMProvider):
    """Answers from queues of scripted replies (or errors to raise), recording every request."""

    name = "fake"
    supports_embeddings = True

    def __init__(
        self,
        replies: Sequence[CompletionResponse | Exception] = (),
        streams: Sequence[Sequence[CompletionChunk | Exception] | Exception] = (),
        embeddings: Sequence[EmbeddingResponse | Exception] = (),
    ) -> None:
        self.replies = list(replies)
        self.streams = list(streams)
        self.embeddings = list(embeddings)
        self.requests: list[tuple[CompletionRequest | EmbeddingRequest, Deployment]] = []
        self.opened: list[FakeChunkStream] = []
        self.cannot: frozenset[str] = frozenset()
        """Parameters this fake declares it cannot honour, when the request sets them."""
        self.delay = 0.0
        """Seconds each `complete` and `embed` takes before answering."""
        self.in_flight = 0
        self.most_in_flight = 0
        """The most delayed `complete` and `embed` calls that were running at once."""

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> list[str]:
        present = {name for name in self.cannot if getattr(request.params, name, None) is not None}
        present |= {name for name in self.cannot if name in request.extra_body}
        return sorted(present)

    async def _answering(self) -> None:
        if not self.delay:
            return
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        self.requests.append((request, deployment))
        await self._answering()
        item = self.replies.pop(0) if self.replies else reply("hello")
        if isinstance(item, Exception):
            raise item
        return item

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        self.requests.append((request, deployment))
        item = self.streams.pop(0) if self.streams else chunks_of("hello there")
        if isinstance(item, Exception):
            raise item
        opened = FakeChunkStream(item)
        self.opened.append(opened)
        return opened

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        self.requests.append((request, deployment))
        await self._answering()
        if self.embeddings:
            item = self.embeddings.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        data = tuple(Embedding(i, (0.5, -0.25, 1.0)) for i in range(len(request.inputs)))
        return EmbeddingResponse(model=deployment.upstream_model, data=data, usage=Usage(prompt_tokens=3))


class FakeClock(Clock):
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    def monotonic(self) -> float:
        return self.time

    def advance(self, seconds: float) -> None:
        self.time += seconds


class FakeTelemetry(Telemetry):
    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def record_call(self, record: CallRecord) -> None:
        self.records.append(record)


class FakeTokenCounter(TokenCounter):
    """One token per whitespace-separated word; enough to check arithmetic, not tokenizers."""

    def count_text(self, text: str, model: str) -> int:
        return len(text.split())

    def count_messages(
        self, messages: Sequence[Message], model: str, tools: Sequence[FunctionTool] = ()
    ) -> int:
        return sum(len(m.text.split()) + 3 for m in messages) + 3


class FakeGuardrail(Guardrail):
    """Answers each mode's scripted verdict (a Verdict, or a function of the inspection; ALLOW for a mode
    not scripted), recording every inspection it saw. It may first wait for `gate` to be set, or
    `delay` seconds, and may raise `error` instead of answering."""

    def __init__(
        self,
        verdicts: Mapping[GuardrailMode, Verdict | Callable[[Inspection], Verdict]] | None = None,
        *,
        delay: float = 0.0,
        gate: asyncio.Event | None = None,
        error: Exception | None = None,
    ) -> None:
        self.verdicts = dict(verdicts or {})
        self.delay = delay
        self.gate = gate
        self.error = error
        self.seen: list[Inspection] = []
        self.closed = False

    async def check(self, inspection: Inspection) -> Verdict:
        self.seen.append(inspection)
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        verdict = self.verdicts.get(inspection.mode, ALLOW)
        return verdict if isinstance(verdict, Verdict) else verdict(inspection)

    async def close(self) -> None:
        self.closed = True
