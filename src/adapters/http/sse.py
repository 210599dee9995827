"""Server-sent events: each chunk flushed as it arrives, `[DONE]` at the end, errors as a last event."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import structlog
from anyio import CancelScope

from adapters.openai_format import render_chunk, render_error
from domain.errors import InternalServerError, SwitchyardError
from ports.llm_provider import ChunkStream

_log = structlog.get_logger("switchyard.http")
DONE = b"data: [DONE]\n\n"


async def sse_events(stream: ChunkStream) -> AsyncIterator[bytes]:
    try:
        async for batch in stream.batches():
            # Chunks that arrived together leave together: one write, not one per chunk.
            yield b"".join(b"data: " + orjson.dumps(render_chunk(chunk)) + b"\n\n" for chunk in batch)
        yield DONE
    except SwitchyardError as exc:
        # The status line is long gone: the error travels as the stream's last event, as OpenAI does.
        yield b"data: " + orjson.dumps(render_error(exc)) + b"\n\n"
    except Exception as exc:
        _log.exception("stream failed", error=repr(exc))
        yield b"data: " + orjson.dumps(render_error(InternalServerError("The stream failed"))) + b"\n\n"
    finally:
        # On a client disconnect this runs inside a cancelled scope; shield it so the upstream call is
        # really closed instead of left running.
        with CancelScope(shield=True):
            await stream.aclose()
