"""A routed stream as the caller gets it: usage noted, the call recorded and metered once it ends."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from application.metering import CallMeter
from domain.completions import CompletionChunk, Usage
from domain.deployments import Deployment
from domain.errors import SwitchyardError
from ports.llm_provider import ChunkStream

if TYPE_CHECKING:
    from application.completions import Completions


class MeteredStream(ChunkStream):
    """Passes chunks through and records the call once the stream ends, however it ends. Usage is
    always metered, but shown to the caller only when asked for (`stream_options.include_usage`). The
    text streamed is kept aside only to be counted should the stream end without usage (cut short, or
    a provider that reports none)."""

    def __init__(
        self,
        inner: ChunkStream,
        owner: Completions,
        call_id: str,
        deployment: Deployment,
        started: float,
        include_usage: bool,
        opened_in: float = 0.0,
        meter: CallMeter | None = None,
    ) -> None:
        self._inner = inner
        self._opened_in = opened_in
        self._upstream = opened_in
        """Seconds waited on the upstream: opening, then each read."""
        self._first_token: float | None = None
        self._include_usage = include_usage
        self._owner = owner
        self._call_id = call_id
        self._deployment = deployment
        self._started = started
        self._usage: Usage | None = None
        self._recorded = False
        self._meter = meter
        self._text: list[str] = []
        self._cost: Decimal | None = None
        self._retries = 0
        self._fallbacks = 0

    def routed(self, retries: int, fallbacks: int) -> None:
        self._retries, self._fallbacks = retries, fallbacks

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        error: SwitchyardError | None = None
        clock = self._owner.clock
        try:
            batches = aiter(self._inner.batches())
            while True:
                asked = clock.monotonic()
                try:
                    batch = await anext(batches)
                except StopAsyncIteration:
                    self._upstream += clock.monotonic() - asked
                    break
                self._upstream += clock.monotonic() - asked
                if self._first_token is None:
                    # Time to first token, for latency-based routing of streams: opening plus first read.
                    self._first_token = self._opened_in + self._owner.elapsed_since(self._started)
                shown = [seen for chunk in batch if (seen := self._meter_chunk(chunk)) is not None]
                if shown:
                    yield shown
        except SwitchyardError as exc:
            deployment = self._deployment
            error = exc.at(
                provider=deployment.provider, model=deployment.model_name, deployment=deployment.id
            )
            raise
        finally:
            await self._finish(error)

    @property
    def usage(self) -> Usage | None:
        return self._usage

    @property
    def cost(self) -> Decimal | None:
        return self._cost

    def _meter_chunk(self, chunk: CompletionChunk) -> CompletionChunk | None:
        """The chunk as the caller sees it (None: not at all), its usage noted."""
        if self._usage is None and self._meter is not None:
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    self._text.append(delta.content)
                if delta.reasoning_content:
                    self._text.append(delta.reasoning_content)
                for call in delta.tool_calls:
                    self._text.append((call.name or "") + (call.arguments or ""))
        if chunk.usage is None:
            return chunk
        self._usage = chunk.usage
        if self._include_usage:
            return chunk
        # A usage-only chunk is dropped, unless it carries the upstream's own bytes (a native stream).
        return dataclasses.replace(chunk, usage=None) if chunk.choices or chunk.native else None

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            await self._finish(None)

    async def discard(self) -> None:
        """Closes a stream no one will read (a during_call guardrail blocked its call): the router is
        told as on any close, but the call is left for its caller to record, as the failure it is."""
        self._meter = None
        await self.aclose()

    async def _finish(self, error: SwitchyardError | None) -> None:
        if self._recorded:
            return
        self._recorded = True
        if self._usage is None:  # what a guardrail read and kept back, when it blocked the rest
            self._usage = self._inner.usage
        self._owner.record(self._call_id, "stream", self._deployment, self._started, self._usage, error)
        await self._owner.stream_ended(self._deployment, self._started, self._usage, error, self._first_token)
        metering, meter = self._owner.metering, self._meter
        if metering is None or meter is None:
            return
        if error is None:
            metered = await metering.succeeded(
                meter,
                self._deployment,
                self._usage,
                reply_text=self._text,
                retries=self._retries,
                fallbacks=self._fallbacks,
                first_token=self._first_token,
                upstream_seconds=self._upstream,
            )
        else:
            metered = await metering.failed(
                meter,
                error,
                self._deployment,
                self._usage,
                reply_text=self._text,
                first_token=self._first_token,
                upstream_seconds=self._upstream,
            )
        self._cost = metered.total
