"""Domain chunk streams as Anthropic's server-sent events, or a native stream's own bytes as they came."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from typing import Any

import orjson
import structlog

from adapters.anthropic_format.render import error_event, message_id, stop_reason, usage_of
from domain.completions import CompletionChunk, FinishReason, ToolCallDelta, Usage
from domain.errors import InternalServerError, SwitchyardError
from ports.llm_provider import ChunkStream

_log = structlog.get_logger("switchyard.http")
_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
_BLOCK_STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":'
# The deltas are most of a stream: written from fixed pieces, only the index and the value encoded.
_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_TEXT = b',"delta":{"type":"text_delta","text":'
_THINKING = b',"delta":{"type":"thinking_delta","thinking":'
_JSON = b',"delta":{"type":"input_json_delta","partial_json":'
_SIGNATURE = b',"delta":{"type":"signature_delta","signature":'
_END = b"}}\n\n"


async def message_events(stream: ChunkStream, model: str) -> AsyncGenerator[bytes, None]:
    """The stream as Anthropic's events for `model` (the name the client asked for), one bytes object
    per batch of chunks that arrived together. Chunks that carry the upstream's own bytes (`native`:
    an Anthropic deployment asked natively) are written as they came, and from the first of them on the
    stream is that upstream's alone. A failure after the start ends the stream with an `error` event;
    the stream is closed however the iteration ends."""
    writer = MessageEventWriter(model)
    native = False
    try:
        async for batch in stream.batches():
            out: list[bytes] = []
            for chunk in batch:
                if chunk.native is not None:
                    native = True
                    if chunk.native:
                        out.append(chunk.native)
                elif not native:
                    writer.feed(chunk, out)
            if out:
                yield out[0] if len(out) == 1 else b"".join(out)
        if not native:
            out = []
            writer.finish(out)
            yield b"".join(out)
    except SwitchyardError as exc:
        # The status line is long gone: the error travels as an event, as Anthropic sends it.
        yield error_event(exc)
    except Exception as exc:
        _log.exception("stream failed", error=repr(exc))
        yield error_event(InternalServerError("The stream failed"))
    finally:
        await stream.aclose()


class MessageEventWriter:
    """Chunks in, events out. message_start goes out with the first chunk (usage still zero unless
    known: providers other than Anthropic report it at the end); each kind of content gets its own block
    (thinking, text, each tool call), a block closing when the next one opens; one ping follows the
    first block's start, as Anthropic sends it; message_delta carries the stop reason and the whole
    usage, message_stop ends the stream."""

    __slots__ = (
        "_at",
        "_calls",
        "_finish",
        "_index",
        "_model",
        "_open",
        "_pinged",
        "_started",
        "_stop",
        "_usage",
    )

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = False
        self._index = -1
        self._at = b""
        """The open (or last) block's index, encoded."""
        self._open: str | None = None
        self._pinged = False
        self._calls: dict[int, int] = {}
        """The domain's tool-call index -> the block index of that call."""
        self._finish: FinishReason | None = None
        self._stop: str | None = None
        self._usage: Usage | None = None

    def feed(self, chunk: CompletionChunk, out: list[bytes]) -> None:
        """Appends to `out` the events one chunk stands for."""
        if not self._started:
            self._start(chunk.id, chunk.usage, out)
        if chunk.usage is not None:
            self._usage = chunk.usage
        for choice in chunk.choices:
            if choice.index:
                continue  # Anthropic has one reply per message
            delta = choice.delta
            if delta.reasoning_content:
                self._append("thinking", _THINKING, delta.reasoning_content, out)
            if delta.thinking_signature is not None:
                self._signature(delta.thinking_signature, out)
            if delta.redacted_thinking is not None:
                self._open_block(
                    "redacted_thinking", {"type": "redacted_thinking", "data": delta.redacted_thinking}, out
                )
                self._close_block(out)
            if delta.content:
                self._append("text", _TEXT, delta.content, out)
            if delta.refusal:
                self._append("text", _TEXT, delta.refusal, out)
            for call in delta.tool_calls:
                self._tool_call(call, out)
            if choice.finish_reason is not None:
                self._finish = choice.finish_reason
            if choice.stop_sequence is not None:
                self._stop = choice.stop_sequence

    def finish(self, out: list[bytes]) -> None:
        """Appends the events that end the message: the last block's stop, message_delta, message_stop."""
        if not self._started:
            self._start("", None, out)
        self._close_block(out)
        reason = stop_reason(self._finish, self._stop, bool(self._calls))
        delta = {"stop_reason": reason, "stop_sequence": self._stop if reason == "stop_sequence" else None}
        out.append(
            _event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage_of(self._usage)})
        )
        out.append(_MESSAGE_STOP)

    def _start(self, chunk_id: str, usage: Usage | None, out: list[bytes]) -> None:
        self._started = True
        message = {
            "id": message_id(chunk_id) if chunk_id else f"msg_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_of(usage),
        }
        out.append(_event("message_start", {"type": "message_start", "message": message}))

    def _append(self, kind: str, head: bytes, value: str, out: list[bytes]) -> None:
        if self._open != kind:
            block = (
                {"type": "text", "text": ""}
                if kind == "text"
                else {"type": "thinking", "thinking": "", "signature": ""}
            )
            self._open_block(kind, block, out)
        out.append(_DELTA + self._at + head + orjson.dumps(value) + _END)

    def _signature(self, signature: str, out: list[bytes]) -> None:
        # The signature closes its thinking block; more thinking after it is a new block.
        if self._open != "thinking":
            self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
        out.append(_DELTA + self._at + _SIGNATURE + orjson.dumps(signature) + _END)
        self._close_block(out)

    def _tool_call(self, call: ToolCallDelta, out: list[bytes]) -> None:
        block = self._calls.get(call.index)
        if block is None:
            head = {
                "type": "tool_use",
                "id": call.id or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": call.name or "",
                "input": {},
            }
            self._open_block("tool_use", head, out)
            self._calls[call.index] = block = self._index
        if call.arguments:
            # Fragments of a call whose block is closed already (a provider interleaving parallel calls)
            # still name that call's block: clients collect deltas by index.
            at = self._at if block == self._index else b"%d" % block
            out.append(_DELTA + at + _JSON + orjson.dumps(call.arguments) + _END)

    def _open_block(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        self._close_block(out)
        self._index += 1
        self._at = b"%d" % self._index
        self._open = kind
        out.append(
            _event(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )
        if not self._pinged:
            self._pinged = True
            out.append(_PING)

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            self._open = None
            out.append(_BLOCK_STOP + self._at + b"}\n\n")


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
