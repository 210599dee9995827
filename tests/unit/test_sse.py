"""Reading server-sent events from raw bytes, however the network splits them."""

from __future__ import annotations

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
