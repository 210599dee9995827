"""What the Messages API answered, read into domain replies: a whole Message, or stream events one by one
into OpenAI-shaped chunks. Both share the stop-reason and usage mappings."""

from __future__ import annotations

import time
from typing import Any

import orjson
from pydantic import ValidationError

from adapters.llm.anthropic import wire
from adapters.llm.anthropic.errors import upstream_error
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionResponse,
    Delta,
    FinishReason,
    ToolCallDelta,
    Usage,
)
from domain.errors import BadGatewayError, SwitchyardError
from domain.messages import Message, Role, ThinkingBlock, ToolCall

FINISH_REASONS = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "pause_turn": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
}
_JSON_TOOL = -1
"""The slot of the tool_use block standing in for a json_schema response_format."""


def finish_reason(stop_reason: str | None, *, answered_with_json_tool: bool = False) -> FinishReason | None:
    """A stop reason as OpenAI's finish reason; one not known yet reads as `stop`. A turn that ended by
    calling only the json_schema stand-in tool has answered: `stop`."""
    if stop_reason is None:
        return None
    reason = FINISH_REASONS.get(stop_reason, FinishReason.STOP)
    return FinishReason.STOP if answered_with_json_tool and reason is FinishReason.TOOL_CALLS else reason


def usage(
    input_tokens: int, output_tokens: int, cache_read: int = 0, cache_creation: int = 0, thinking: int = 0
) -> Usage:
    """Anthropic counts cache reads and writes apart from input_tokens; OpenAI's prompt_tokens holds all
    three, the two cache counts reported as parts of it."""
    return Usage(
        prompt_tokens=input_tokens + cache_read + cache_creation,
        completion_tokens=output_tokens,
        cached_tokens=cache_read,
        cache_creation_tokens=cache_creation,
        reasoning_tokens=thinking,
    )


def read_message(body: object, json_tool: str | None = None) -> CompletionResponse:
    """A decoded Message; BadGatewayError when it is not one. Text blocks join into the content;
    thinking and redacted_thinking blocks become thinking_blocks (with their signatures, to be sent back
    in a later turn), their text joined into reasoning_content too; tool_use blocks become tool calls
    with their input as JSON text; the `json_tool` call (if named) becomes the content instead."""
    try:
        reply = wire.Message.model_validate(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise BadGatewayError(f"Anthropic sent a malformed message ({where}: {error['msg']}).") from exc
    texts: list[str] = []
    reasoning: list[str] = []
    thinking: list[ThinkingBlock] = []
    calls: list[ToolCall] = []
    answer: str | None = None
    for block in reply.content:
        if block.type == "text" and block.text:
            texts.append(block.text)
        elif block.type == "thinking":
            if block.thinking:
                reasoning.append(block.thinking)
            thinking.append(ThinkingBlock(block.thinking or "", block.signature or None))
        elif block.type == "redacted_thinking" and block.data:
            thinking.append(ThinkingBlock(redacted=block.data))
        elif block.type == "tool_use":
            arguments = orjson.dumps(block.input if block.input is not None else {}).decode()
            if json_tool is not None and block.name == json_tool and answer is None:
                answer = arguments
            else:
                calls.append(
                    ToolCall(id=block.id or f"toolu_{len(calls)}", name=block.name or "", arguments=arguments)
                )
    if answer is not None:
        content: str | None = answer
    else:
        content = "".join(texts) if texts or not calls else None
    message = Message(
        role=Role.ASSISTANT,
        content=content,
        tool_calls=tuple(calls),
        reasoning_content="".join(reasoning) if reasoning else None,
        thinking_blocks=tuple(thinking),
    )
    reason = finish_reason(reply.stop_reason, answered_with_json_tool=answer is not None and not calls)
    used = reply.usage
    return CompletionResponse(
        id=reply.id,
        created=int(time.time()),
        model=reply.model or "",
        choices=(Choice(0, message, reason, stop_sequence=reply.stop_sequence),),
        usage=_usage_of(used) if used is not None else None,
    )


def _usage_of(used: wire.Usage) -> Usage:
    details = used.output_tokens_details
    return usage(
        used.input_tokens or 0,
        used.output_tokens or 0,
        used.cache_read_input_tokens or 0,
        used.cache_creation_input_tokens or 0,
        (details.thinking_tokens or 0) if details else 0,
    )


class StreamTranslator:
    """Stream events in, OpenAI-shaped chunks out, one event at a time.

    message_start gives the role chunk (and the input side of usage); text_delta, thinking_delta and
    input_json_delta give content, reasoning_content and tool-call argument chunks; signature_delta
    closes the thinking block with its `thinking_signature`; a redacted_thinking block comes whole as
    `redacted_thinking`; a tool_use block's start names the call (its index counts tool_use blocks only);
    message_delta brings the stop reason, the stop sequence and the output side of usage, which go out
    at message_stop as a finish chunk and a final usage chunk (no choices, as OpenAI sends it).
    citations_delta and ping carry nothing the domain holds. An `error` event raises its mapped error.
    Payloads are read as plain dicts: a malformed one raises KeyError or TypeError, which the caller
    turns into BadGatewayError."""

    __slots__ = (
        "_blocks",
        "_calls",
        "_created",
        "_id",
        "_json_tool",
        "_model",
        "_silent",
        "_stop",
        "_stop_sequence",
        "_usage",
        "done",
    )

    def __init__(self, json_tool: str | None = None) -> None:
        self._json_tool = json_tool
        self._id = ""
        self._model = ""
        self._created = int(time.time())
        self._blocks: dict[int, int] = {}
        """Content block index -> tool-call index (or _JSON_TOOL), for tool_use blocks."""
        self._silent: set[int] = set()
        """tool_use blocks that have sent no argument fragment yet."""
        self._calls = 0
        self._stop: str | None = None
        self._stop_sequence: str | None = None
        self._usage = [0, 0, 0, 0, 0]  # input, output, cache read, cache creation, thinking
        self.done = False

    def feed(self, payload: Any, out: list[CompletionChunk]) -> None:
        """Appends to `out` the chunks one decoded event stands for."""
        kind = payload["type"]
        if kind == "content_block_delta":
            delta = payload["delta"]
            delta_kind = delta["type"]
            if delta_kind == "text_delta":
                if text := delta["text"]:
                    out.append(self._chunk(Delta(content=text)))
            elif delta_kind == "input_json_delta":
                if fragment := delta["partial_json"]:
                    self._arguments(payload["index"], fragment, out)
            elif delta_kind == "thinking_delta":
                if thinking := delta["thinking"]:
                    out.append(self._chunk(Delta(reasoning_content=thinking)))
            elif delta_kind == "signature_delta" and (signature := delta["signature"]):
                out.append(self._chunk(Delta(thinking_signature=signature)))
        elif kind == "content_block_start":
            self._block_start(payload["index"], payload["content_block"], out)
        elif kind == "content_block_stop":
            index = payload["index"]
            if index in self._silent:  # a call without arguments: say so, as OpenAI does, with "{}"
                self._arguments(index, "{}", out)
        elif kind == "message_start":
            message = payload["message"]
            self._id = message.get("id") or ""
            self._model = message.get("model") or ""
            self._count(message.get("usage"))
            out.append(self._chunk(Delta(role="assistant", content="")))
        elif kind == "message_delta":
            delta = payload["delta"]
            self._stop = delta.get("stop_reason") or self._stop
            self._stop_sequence = delta.get("stop_sequence") or self._stop_sequence
            self._count(payload.get("usage"))
        elif kind == "message_stop":
            answered = self._calls == 0 and any(slot == _JSON_TOOL for slot in self._blocks.values())
            reason = finish_reason(self._stop or "end_turn", answered_with_json_tool=answered)
            end = ChunkChoice(0, Delta(), reason, stop_sequence=self._stop_sequence)
            out.append(CompletionChunk(self._id, self._created, self._model, (end,)))
            out.append(CompletionChunk(self._id, self._created, self._model, (), usage(*self._usage)))
            self.done = True
        elif kind == "error":
            raise upstream_error(None, payload)

    def _chunk(self, delta: Delta) -> CompletionChunk:
        return CompletionChunk(self._id, self._created, self._model, (ChunkChoice(0, delta),))

    def bare(self, native: bytes) -> CompletionChunk:
        """A chunk with no choices carrying only upstream bytes (events that mean nothing here)."""
        return CompletionChunk(self._id, self._created, self._model, (), native=native)

    def malformed(self, event: str, data: bytes, error: Exception) -> SwitchyardError:
        # An error event in another shape (a proxy's) is still the error it names.
        return upstream_error(None, data) if event == "error" else malformed_event(data, error)

    def truncated(self) -> SwitchyardError:
        return truncated()

    def _block_start(self, index: int, block: Any, out: list[CompletionChunk]) -> None:
        block_kind = block["type"]
        if block_kind == "text":
            if text := block.get("text"):
                out.append(self._chunk(Delta(content=text)))
        elif block_kind == "tool_use":
            given = block.get("input")
            if (
                self._json_tool is not None
                and block.get("name") == self._json_tool
                and _JSON_TOOL not in self._blocks.values()
            ):
                self._blocks[index] = _JSON_TOOL
            else:
                self._blocks[index] = slot = self._calls
                self._calls += 1
                head = ToolCallDelta(slot, id=block["id"], name=block["name"], arguments="")
                out.append(self._chunk(Delta(tool_calls=(head,))))
            self._silent.add(index)
            if given:  # input is streamed as fragments; one sent whole up front is taken as it is
                self._arguments(index, orjson.dumps(given).decode(), out)
        elif block_kind == "thinking":
            # Both normally come empty here and then as deltas; a block sent whole is taken as it is.
            if thinking := block.get("thinking"):
                out.append(self._chunk(Delta(reasoning_content=thinking)))
            if signature := block.get("signature"):
                out.append(self._chunk(Delta(thinking_signature=signature)))
        elif block_kind == "redacted_thinking" and (data := block.get("data")):
            out.append(self._chunk(Delta(redacted_thinking=data)))

    def _arguments(self, index: int, fragment: str, out: list[CompletionChunk]) -> None:
        slot = self._blocks.get(index)
        if slot is None:
            return  # a fragment of a block that is no tool call of ours (a server tool's input)
        self._silent.discard(index)
        if slot == _JSON_TOOL:
            out.append(self._chunk(Delta(content=fragment)))
        else:
            out.append(self._chunk(Delta(tool_calls=(ToolCallDelta(slot, arguments=fragment),))))

    def _count(self, used: Any) -> None:
        # message_start carries the input side; message_delta's counts are cumulative, so the latest wins.
        if not used:
            return
        counts = self._usage
        for position, name in enumerate(
            ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        ):
            value = used.get(name)
            if isinstance(value, int):
                counts[position] = value
        details = used.get("output_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
            counts[4] = details["thinking_tokens"]


def truncated() -> BadGatewayError:
    return BadGatewayError("The Anthropic stream ended before its message_stop event.")


def malformed_event(data: bytes, exc: Exception) -> BadGatewayError:
    shown = data[:200].decode("utf-8", "replace")
    error = BadGatewayError(f"Anthropic sent a malformed stream event: {shown!r}")
    error.__cause__ = exc
    return error
