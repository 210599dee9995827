"""A pass-through stream read into chunks: each chunk carries in `native` the upstream's SSE bytes,
whole events exactly as read, so that a client of the upstream's own format gets its stream unchanged
while the gateway meters what the events say."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, Protocol

import orjson

from adapters.llm.sse import parse_event, split_events
from domain.completions import CompletionChunk
from domain.errors import SwitchyardError


class EventTranslator(Protocol):
    """One stream's events into domain chunks, one event at a time (Anthropic's, the Responses API's)."""

    @property
    def done(self) -> bool:
        """Whether the event that ends the stream has come."""

    def feed(self, payload: Any, out: list[CompletionChunk]) -> None:
        """Appends the chunks one decoded event stands for; raises the domain error of an error event.
        A malformed payload may raise ValueError, KeyError, TypeError or AttributeError."""

    def bare(self, native: bytes) -> CompletionChunk:
        """A chunk with no choices carrying only upstream bytes (events that mean nothing here)."""

    def malformed(self, event: str, data: bytes, error: Exception) -> SwitchyardError:
        """The error a payload `feed` could not read stands for (an error event in a shape of its own, a
        proxy's, is still the error it names)."""

    def truncated(self) -> SwitchyardError:
        """The error of a stream that ended before its last event."""


async def native_batches(
    pieces: AsyncIterable[bytes],
    translator: EventTranslator,
    stopped: Callable[[], bool] = lambda: False,
) -> AsyncIterator[list[CompletionChunk]]:
    """The chunks of the stream, a batch per piece read that completed any event. The `native` bytes of
    all chunks, joined, are the upstream's stream byte for byte up to an error event, which is raised as
    its domain error after the batch before it; a stream that ends before its last event raises
    `translator.truncated()`. Reading ends early when `stopped()` says so (the stream was closed)."""
    buffer = b""
    opening = True
    async for piece in pieces:
        buffer = buffer + piece if buffer else piece
        events, buffer = split_events(buffer)
        if not events:
            continue
        # The first event goes on alone, and the loop is given a turn to write it, before the rest of
        # its read is translated (see adapters.http.sse.first_written).
        parts = (events[:1], events[1:]) if opening and len(events) > 1 else (events,)
        opening = False
        for number, part in enumerate(parts):
            if number:
                await asyncio.sleep(0)
            batch, failure = _translated(part, translator)
            if batch:
                yield batch
            if failure is not None:
                raise failure
            if translator.done or stopped():
                return
    if buffer:  # some hosts end without the last blank line
        batch, failure = _translated([buffer], translator)
        if batch:
            yield batch
        if failure is not None:
            raise failure
    if not translator.done:
        raise translator.truncated()


def _translated(
    events: list[bytes], translator: EventTranslator
) -> tuple[list[CompletionChunk], SwitchyardError | None]:
    """The chunks of whole `events`, each event's bytes on the first chunk it makes, or on the next
    chunk made, or on a chunk of its own with no choices closing the batch; and the error an event
    stands for, if one does (it and the events after it are not carried)."""
    batch: list[CompletionChunk] = []
    pending: list[bytes] = []
    failure: SwitchyardError | None = None
    for raw in events:
        parsed = None if translator.done else parse_event(raw)
        if parsed is None:
            pending.append(raw)
            continue
        event, data = parsed
        made = len(batch)
        try:
            translator.feed(orjson.loads(data), batch)
        except SwitchyardError as exc:  # an error event
            failure = exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            failure = translator.malformed(event, data, exc)
        if failure is not None:
            del batch[made:]
            break
        pending.append(raw)
        if len(batch) > made:
            batch[made] = _with_native(batch[made], b"".join(pending))
            pending = []
    if pending:
        batch.append(translator.bare(b"".join(pending)))
    return batch, failure


def _with_native(chunk: CompletionChunk, native: bytes) -> CompletionChunk:
    # The chunk rebuilt field by field: dataclasses.replace, which looks the fields up each time, cost
    # three times as much, once an event.
    return CompletionChunk(
        chunk.id,
        chunk.created,
        chunk.model,
        chunk.choices,
        chunk.usage,
        chunk.system_fingerprint,
        chunk.service_tier,
        native,
    )
