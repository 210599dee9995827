"""Server-sent events read from a stream of lines, as the WHATWG spec parses them."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


async def sse_events(lines: AsyncIterable[str]) -> AsyncIterator[tuple[str, str]]:
    """(event type, data) per event: `data:` lines of one event joined by newlines, comments and the
    `id:` / `retry:` fields skipped. An event cut off by the end of the stream is still delivered,
    because some hosts end without the final blank line."""
    data: list[str] = []
    event = ""
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
                data = []
            event = ""
            continue
        if line[0] == ":":
            continue
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:
        yield event, "\n".join(data)
