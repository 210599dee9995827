"""Server-sent events parsed from raw bytes as they arrive, as the WHATWG spec reads them.

Working on bytes, not decoded lines, spares a text decode and a line split per network read; the data
of an event stays bytes because JSON parsers take bytes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator


class SseParser:
    """The events of an SSE body fed to it piece by piece as the network reads it (the parsing of
    `sse_events`), without a generator between the reads and their reader."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._event = ""

    def feed(self, piece: bytes) -> list[tuple[str, bytes]]:
        """The events `piece` completed, in order (often none)."""
        buffer = self._buffer + piece if self._buffer else piece
        if b"\r" in buffer:
            if buffer[-1] == 13:  # a CRLF may be split across reads: wait for what follows the CR
                self._buffer = buffer
                return []
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = buffer.split(b"\n")
        return self._read(lines) if lines else []

    def end(self) -> list[tuple[str, bytes]]:
        """The events left once the body ended: an event cut off by the end is still delivered."""
        tail = self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        self._buffer = b""
        return self._read([*tail, b""])

    def _read(self, lines: list[bytes]) -> list[tuple[str, bytes]]:
        events: list[tuple[str, bytes]] = []
        data = self._data
        for line in lines:
            if line[:6] == b"data: ":  # most lines, read without the general partition below
                data.append(line[6:])
                continue
            if not line:
                if data:
                    events.append((self._event, data[0] if len(data) == 1 else b"\n".join(data)))
                    data.clear()
                self._event = ""
                continue
            if line[0] == 58:  # b":" opens a comment
                continue
            field, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                data.append(value)
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
        return events


async def sse_events(pieces: AsyncIterable[bytes]) -> AsyncIterator[tuple[str, bytes]]:
    """(event type, data) per event: `data:` lines of one event joined by newlines, comments and the
    `id:` / `retry:` fields skipped. An event cut off by the end of the stream is still delivered,
    because some hosts end without the final blank line. Lines may end in LF, CRLF or CR."""
    async for batch in sse_event_batches(pieces):
        for event in batch:
            yield event


async def sse_event_batches(pieces: AsyncIterable[bytes]) -> AsyncIterator[list[tuple[str, bytes]]]:
    """The events of `sse_events`, a list per network read that completed any."""
    parser = SseParser()
    async for piece in pieces:
        if events := parser.feed(piece):
            yield events
    if events := parser.end():
        yield events


# For pass-through streams, whose bytes must reach the client exactly as read: events are cut whole
# from the buffer and parsed one by one.
# The end of an event: a line ending, then an empty line. A CR is a line ending of its own only when no
# LF follows it (CRLF is one ending, never two).
_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")


def split_events(buffer: bytes) -> tuple[list[bytes], bytes]:
    """The whole events at the start of `buffer`, each with the blank line that ends it (blank lines
    between events ride along), and what is left: `b"".join(events) + rest == buffer`."""
    if b"\r" not in buffer:  # Anthropic and OpenAI end lines with LF: one split does it
        *events, rest = buffer.split(b"\n\n")
        return [event + b"\n\n" for event in events], rest
    # A CR at the very end may be the first half of a CRLF: it waits for the next read.
    searched = buffer[:-1] if buffer[-1] == 13 else buffer
    events: list[bytes] = []
    start = 0
    for end in _EVENT_END.finditer(searched):
        events.append(buffer[start : end.end()])
        start = end.end()
    return events, buffer[start:]


def parse_event(raw: bytes) -> tuple[str, bytes] | None:
    """(event type, data) of one event's bytes, as the SSE spec reads them; None when it carries no
    data (a comment, a blank line) or only the `[DONE]` some OpenAI-compatible hosts end with."""
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    name = ""
    data: list[bytes] = []
    for line in raw.split(b"\n"):
        if not line or line[0] == 58:  # b":" opens a comment
            continue
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if not data or data == [b"[DONE]"]:
        return None
    return name, data[0] if len(data) == 1 else b"\n".join(data)
