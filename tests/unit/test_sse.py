"""Reading server-sent events from raw bytes, however the network splits them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from adapters.llm.sse import sse_event_batches, sse_events


async def _pieces(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _events(*pieces: bytes) -> list[tuple[str, bytes]]:
    return [event async for event in sse_events(_pieces(*pieces))]


STREAM = (
    b': keep-alive\nid: 1\nretry: 100\ndata: {"a":\ndata: 1}\n\n\n'
    b"data:x\n\nevent: error\ndata: e\n\ndata: y\n\n"
)
EXPECTED = [("", b'{"a":\n1}'), ("", b"x"), ("error", b"e"), ("", b"y")]


async def test_multi_line_data_is_joined_and_comments_ids_and_retries_are_skipped() -> None:
    assert await _events(STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
async def test_events_come_out_the_same_whatever_the_size_of_the_network_reads(size: int) -> None:
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]

    assert await _events(*pieces) == EXPECTED


@pytest.mark.parametrize("size", [1, 5, 1000])
async def test_crlf_and_cr_line_endings_read_like_lf(size: int) -> None:
    crlf = STREAM.replace(b"\n", b"\r\n")
    pieces = [crlf[i : i + size] for i in range(0, len(crlf), size)]

    assert await _events(*pieces) == EXPECTED
    assert await _events(STREAM.replace(b"\n", b"\r")) == EXPECTED


async def test_the_event_type_holds_for_its_own_event_only() -> None:
    events = await _events(b'event: error\ndata: {"error": {}}\n\ndata: [DONE]\n\n')

    assert events == [("error", b'{"error": {}}'), ("", b"[DONE]")]


async def test_an_event_the_stream_ended_without_closing_is_still_delivered() -> None:
    assert await _events(b"data: last") == [("", b"last")]
    assert await _events(b"data: a\ndata: b\n") == [("", b"a\nb")]


async def test_events_completed_by_one_network_read_come_out_together() -> None:
    batches = [
        batch
        async for batch in sse_event_batches(
            _pieces(b"data: a\n\ndata: b\n\ndata: c", b"\n\n", b"data: d\n\n")
        )
    ]

    assert batches == [[("", b"a"), ("", b"b")], [("", b"c")], [("", b"d")]]


def _random_stream(rng: random.Random) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A stream of OpenAI- and Anthropic-shaped events mixed with every other shape the spec allows,
    and the events it spells."""
    raw: list[bytes] = []
    expected: list[tuple[str, bytes]] = []
    for _ in range(rng.randrange(1, 12)):
        shape = rng.choice(["data", "event", "multi", "comment", "id", "blank", "bare"])
        word = rng.choice([b"x", b"", b'{"a": "b: c"}', b" spaced", b"\xc3\xa9"])
        if shape == "data":
            raw.append(b"data: " + word + b"\n\n")
            expected.append(("", word))
        elif shape == "event":
            raw.append(b"event: message_delta\ndata: " + word + b"\n\n")
            expected.append(("message_delta", word))
        elif shape == "multi":
            raw.append(b"event: e\nid: 7\ndata: " + word + b"\ndata:" + word + b"\n\n")
            expected.append(("e", word + b"\n" + word.removeprefix(b" ")))
        elif shape == "comment":
            raw.append(b": keep-alive\n\n")
        elif shape == "id":
            raw.append(b"id: 3\nretry: 10\ndata: " + word + b"\n\n")
            expected.append(("", word))
        elif shape == "blank":
            raw.append(b"\n")
        else:
            raw.append(b"event: lonely\n\n")
    return b"".join(raw), expected


@pytest.mark.parametrize("seed", range(40))
async def test_whole_events_read_at_once_read_as_they_do_line_by_line(seed: int) -> None:
    # LF streams take the parser's fast path for whole events; CR and CRLF ones are read line by line.
    rng = random.Random(seed)
    stream, expected = _random_stream(rng)
    for body in (stream, stream.replace(b"\n", b"\r\n"), stream.replace(b"\n", b"\r")):
        cuts = sorted(rng.sample(range(1, len(body)), min(3, len(body) - 1))) if len(body) > 1 else []
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        assert await _events(*pieces) == expected
        assert await _events(body) == expected
