"""A stream's chunks written by ChunkWriter are byte for byte what render_chunk's objects make in orjson,
whichever path a chunk takes (a text-only chunk's frame, kept from the chunk before, or the whole
render)."""

from __future__ import annotations

import itertools
import random

import orjson
import pytest

from adapters.openai_format.render import ChunkWriter, render_chunk
from domain.completions import ChunkChoice, CompletionChunk, Delta, FinishReason, ToolCallDelta, Usage

TEXTS = ["Sure", "", ' "quoted" \\ back', "line\nbreak\ttab", "é中文🙂", "\x00\x1f\u2028"]
DELTAS = [
    *(Delta(content=text) for text in TEXTS),
    Delta(role="assistant", content="Hi"),
    Delta(role="assistant"),
    Delta(reasoning_content="think"),
    Delta(refusal="no"),
    Delta(content="x", tool_calls=(ToolCallDelta(0, "call_1", "f", "{}"),)),
    Delta(),
]
HEADS = [
    ("chatcmpl-1", 1735689600, "gpt-4o-mini", None, None),
    ("chatcmpl-1", 1735689600, "gpt-4o-mini", "fp_b8bc95a0ac", "default"),
    ("chatcmpl-1", 1735689600, "gpt-4o-mini", "fp_b8bc95a0ac", None),
    ("chatcmpl-1", 1735689601, "gpt-4o-mini", "fp_b8bc95a0ac", None),
    ("chatcmpl-1", 1735689601, "gpt-4o", "fp_b8bc95a0ac", None),
    ("chatcmpl-3", 1735689601, "gpt-4o", "fp_b8bc95a0ac", None),
    ("chatcmpl-2", 1735689601, 'mo"del/é', "fp", None),
    ("", 0, "", None, "flex"),
]


def _chunks() -> list[CompletionChunk]:
    found = []
    for (id_, created, model, fingerprint, tier), delta in itertools.product(HEADS, DELTAS):
        for index, finish, logprobs in [(0, None, None), (2, None, None), (0, FinishReason.STOP, None),
                                        (0, None, {"content": []})]:  # fmt: skip
            choice = ChunkChoice(index, delta, finish, logprobs)
            found.append(CompletionChunk(id_, created, model, (choice,), None, fingerprint, tier))
        found.append(CompletionChunk(id_, created, model, (ChunkChoice(0, delta), ChunkChoice(1, delta))))
        usage = Usage(prompt_tokens=3, completion_tokens=4, cached_tokens=1)
        found.append(CompletionChunk(id_, created, model, (ChunkChoice(0, delta),), usage, fingerprint))
        found.append(CompletionChunk(id_, created, model, (), usage, fingerprint, tier))
    return found


@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_every_chunk_is_written_as_orjson_writes_its_render(seed: int | None) -> None:
    chunks = _chunks()
    if seed is not None:  # the frame kept from one chunk must never leak into the next
        random.Random(seed).shuffle(chunks)
    writer = ChunkWriter()

    for chunk in chunks:
        assert writer(chunk) == orjson.dumps(render_chunk(chunk)), chunk
