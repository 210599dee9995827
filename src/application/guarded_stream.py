"""A stream checked by post_call guardrails before the caller gets it: whole, or window by window."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from domain.completions import ChunkChoice, CompletionChunk, CompletionRequest, Delta, Usage, assemble
from domain.errors import GuardrailViolationError
from domain.guardrails import GuardrailMode, StreamCheck, replaced, settled
from ports.llm_provider import ChunkStream, StreamWrapper

if TYPE_CHECKING:
    from application.guardrails import CallGuard

_EMPTY = Delta()


class GuardedStream(StreamWrapper):
    """With any guardrail that reads streams whole, nothing is released until the whole reply has
    passed; it is then released as it came (the upstream's own bytes included) when nothing was
    rewritten, else rendered from what it now says. With only WINDOW guardrails, each choice's text is
    checked as it grows and released but for its last `window` characters, which wait for the text
    after them, so that a match spanning two chunks is caught whole; the text is then rendered from
    what it says (never the upstream's bytes, which could not be masked). A block raises
    GuardrailViolationError; what was released before it stays released."""

    def __init__(
        self,
        inner: ChunkStream,
        guard: CallGuard,
        request: CompletionRequest,
    ) -> None:
        super().__init__(inner)
        self._guard = guard
        self._request = request
        post = guard.of(GuardrailMode.POST_CALL)
        self._whole = not post or any(c.spec.stream is StreamCheck.WHOLE for c in post)
        windows = [c.spec.window for c in post if c.spec.stream is StreamCheck.WINDOW]
        self._window = min(windows) if windows else 0
        self._held: dict[int, str] = {}
        self._last: CompletionChunk | None = None
        self._usage: Usage | None = None
        self._judged = False

    @property
    def usage(self) -> Usage | None:
        """The usage the upstream reported, read here even when a block kept it from going further."""
        return self._usage or self._inner.usage

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._whole:
            async for batch in self._whole_batches():
                yield batch
            return
        async for batch in self._inner.batches():
            out: list[CompletionChunk] = []
            try:
                for chunk in batch:
                    await self._window_chunk(chunk, out)
            except GuardrailViolationError:
                if out:  # what passed before the block, in the same batch, goes as it would have
                    yield out
                raise
            if out:
                yield out
        out = []
        for index in sorted(self._held):
            await self._flush(index, out)
        if not self._judged:
            # A reply without text (tool calls only) is judged all the same, as a whole one is, so that
            # the record shows the post_call guardrails ran on it.
            await self._guard.checked_reply((), self._request, final=True)
        if out:
            yield out

    async def _whole_batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        chunks: list[CompletionChunk] = []
        async for batch in self._inner.batches():
            chunks.extend(batch)
            for chunk in batch:
                self._usage = chunk.usage or self._usage
        if not chunks:
            return
        texts_of: dict[int, list[str]] = {}
        for chunk in chunks:
            for choice in chunk.choices:
                if choice.delta.content:
                    texts_of.setdefault(choice.index, []).append(choice.delta.content)
        indexes = sorted(texts_of)
        before = tuple("".join(texts_of[i]) for i in indexes)
        try:
            texts, pairs, opaque = await self._guard.checked_reply(
                before, self._request, reply=assemble(chunks)
            )
        except GuardrailViolationError:
            await self._inner.aclose()
            raise
        restore = self._guard.restore
        texts = tuple(
            settled(old, new, pairs, restore, opaque=opaque) for old, new in zip(before, texts, strict=True)
        )
        if texts == before:
            yield chunks
            return
        yield _rewritten(chunks, dict(zip(indexes, texts, strict=True)))

    async def _window_chunk(self, chunk: CompletionChunk, out: list[CompletionChunk]) -> None:
        self._last = chunk
        self._usage = chunk.usage or self._usage
        kept: list[ChunkChoice] = []
        for choice in chunk.choices:
            delta = choice.delta
            index = choice.index
            if delta.content:
                held = self._held.get(index, "") + delta.content
                self._held[index] = held
                if len(held) >= 2 * self._window:
                    await self._release(index, out, final=False)
                delta = dataclasses.replace(delta, content=None)
            if delta == _EMPTY and choice.finish_reason is None and choice.logprobs is None:
                continue
            if choice.finish_reason is not None or delta.tool_calls:
                # The text ends here (a tool call follows it, or the choice is done): all of it is judged.
                await self._flush(index, out)
            kept.append(dataclasses.replace(choice, delta=delta))
        if kept or chunk.usage is not None:
            if chunk.usage is not None:
                for index in sorted(self._held):
                    await self._flush(index, out)
            out.append(dataclasses.replace(chunk, choices=tuple(kept), native=None))

    async def _flush(self, index: int, out: list[CompletionChunk]) -> None:
        if self._held.get(index):
            await self._release(index, out, final=True)

    async def _release(self, index: int, out: list[CompletionChunk], *, final: bool) -> None:
        """Judges the held text of choice `index` and releases what may go: all of it when `final` (or
        when a guardrail rewrote it without saying what it replaced), else all but the last `window`
        characters, cut before any piece a guardrail replaced or a placeholder that spans the cut."""
        text = self._held.pop(index)
        self._judged = True
        try:
            texts, pairs, opaque = await self._guard.checked_reply((text,), self._request, final=final)
        except GuardrailViolationError:
            await self._inner.aclose()
            raise
        restore = self._guard.restore
        if final or opaque:
            released = settled(text, texts[0], pairs, restore, opaque=opaque)
        else:
            cut = _safe_cut(text, len(text) - self._window, [*(f for f, _ in pairs), *restore])
            released = settled(text[:cut], replaced(text[:cut], pairs), pairs, restore)
            if cut < len(text):
                self._held[index] = text[cut:]
        if released:
            last = self._last
            assert last is not None
            choice = ChunkChoice(index, Delta(content=released))
            out.append(CompletionChunk(last.id, last.created, last.model, choices=(choice,)))


def _safe_cut(text: str, cut: int, pieces: Sequence[str]) -> int:
    """`cut`, moved back to the start of any occurrence of one of `pieces` that spans it."""
    moved = True
    while moved and cut > 0:
        moved = False
        for piece in pieces:
            if not piece:
                continue
            start = text.find(piece, max(0, cut - len(piece) + 1))
            while start != -1 and start < cut:
                if start + len(piece) > cut:
                    cut, moved = start, True
                    break
                start = text.find(piece, start + 1)
    return max(cut, 0)


def _rewritten(chunks: list[CompletionChunk], texts: dict[int, str]) -> list[CompletionChunk]:
    """The stream saying `texts` (a choice index -> its whole text): the first content delta of a
    choice carries all of it, the others none; the upstream's own bytes are let go."""
    out: list[CompletionChunk] = []
    given: set[int] = set()
    for chunk in chunks:
        choices: list[ChunkChoice] = []
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                content = None if choice.index in given else texts.get(choice.index)
                given.add(choice.index)
                delta = dataclasses.replace(delta, content=content or None)
                if delta == _EMPTY and choice.finish_reason is None and choice.logprobs is None:
                    continue
            choices.append(dataclasses.replace(choice, delta=delta))
        if choices or chunk.usage is not None:
            out.append(dataclasses.replace(chunk, choices=tuple(choices), native=None))
    return out


class _Primed(StreamWrapper):
    """A stream whose first batch was read before it was handed on."""

    def __init__(self, inner: ChunkStream, batches: AsyncIterator[Sequence[CompletionChunk]]) -> None:
        super().__init__(inner)
        self._batches = batches
        self._first: Sequence[CompletionChunk] | None = None

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        async for batch in self._batches:
            yield batch

    async def aclose(self) -> None:
        try:
            await self._batches.aclose()  # type: ignore[attr-defined]
        finally:
            await self._inner.aclose()


async def primed(inner: ChunkStream) -> ChunkStream:
    """`inner` with its first batch already read: what fails there fails here, before the caller was
    answered at all."""
    batches = aiter(inner.batches())
    stream = _Primed(inner, batches)
    with contextlib.suppress(StopAsyncIteration):
        stream._first = await anext(batches)
    return stream
