"""Converse replies and ConverseStream events as domain replies and chunks. Pure; whole and streamed
replies share the finish-reason, usage and tool mapping, and the schema tool of a response_format is
read back as content in both."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from adapters.llm.bedrock import wire
from adapters.llm.bedrock.mapping import Plan
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
from domain.errors import BadGatewayError
from domain.messages import Message, Role, ThinkingBlock, ToolCall

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "guardrail_intervened": FinishReason.CONTENT_FILTER,
    "content_filtered": FinishReason.CONTENT_FILTER,
}


def finish_reason(stop_reason: str | None, *, only_json_tool: bool) -> FinishReason | None:
    """Bedrock's stopReason as OpenAI's finish_reason; any reason OpenAI has no name for reads as stop."""
    if stop_reason is None:
        return None
    if stop_reason == "tool_use" and only_json_tool:
        return FinishReason.STOP  # the reply is the schema tool's input, given as content
    return _FINISH.get(stop_reason, FinishReason.STOP)


def usage(usage: wire.TokenUsage | None) -> Usage | None:
    """Bedrock counts cached prompt tokens apart from `inputTokens`; the domain's prompt holds them."""
    if usage is None:
        return None
    read, written = usage.cacheReadInputTokens or 0, usage.cacheWriteInputTokens or 0
    return Usage(
        prompt_tokens=(usage.inputTokens or 0) + read + written,
        completion_tokens=usage.outputTokens or 0,
        cached_tokens=read,
        cache_creation_tokens=written,
    )


def stop_sequence(fields: dict[str, Any] | None) -> str | None:
    """The stop sequence Claude says ended its reply, from the fields the request asked it for."""
    value = (fields or {}).get("stop_sequence")
    return value if isinstance(value, str) else None


def read_response(
    content: bytes, plan: Plan, *, response_id: str, created: int, model: str
) -> CompletionResponse:
    reply = parse(wire.ConverseResponse, content, "Converse reply")
    texts: list[str] = []
    thoughts: list[ThinkingBlock] = []
    calls: list[ToolCall] = []
    message = reply.output.message
    for block in message.content if message is not None else ():
        if block.text is not None:
            texts.append(block.text)
        elif block.toolUse is not None:
            use = block.toolUse
            arguments = orjson.dumps(use.input if use.input is not None else {}).decode()
            if plan.json_tool is not None and use.name == plan.json_tool:
                texts.append(arguments)
            else:
                call_id = use.toolUseId or f"call_{len(calls)}"
                calls.append(ToolCall(id=call_id, name=use.name or "", arguments=arguments))
        elif block.reasoningContent is not None:
            thought = block.reasoningContent.reasoningText
            if thought is not None:
                thoughts.append(ThinkingBlock(thought.text or "", signature=thought.signature))
            elif block.reasoningContent.redactedContent is not None:
                thoughts.append(ThinkingBlock(redacted=block.reasoningContent.redactedContent))
    reasoning = [thought.text for thought in thoughts if thought.redacted is None]
    choice = Choice(
        index=0,
        message=Message(
            role=Role.ASSISTANT,
            content="".join(texts) if texts or not calls else None,
            tool_calls=tuple(calls),
            reasoning_content="".join(reasoning) if reasoning else None,
            thinking_blocks=tuple(thoughts),
        ),
        finish_reason=finish_reason(reply.stopReason, only_json_tool=not calls),
        stop_sequence=stop_sequence(reply.additionalModelResponseFields),
    )
    return CompletionResponse(
        id=response_id, created=created, model=model, choices=(choice,), usage=usage(reply.usage)
    )


def parse(model: type[Any], content: bytes, what: str) -> Any:
    """`content` read as `model`; BadGatewayError when it is not JSON of that shape."""
    try:
        return model.model_validate_json(content)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise BadGatewayError(
            f"Bedrock sent a malformed {what} ({where or 'body'}: {error['msg']})."
        ) from exc


# The events of a stream but its deltas: those, most of a stream, are read straight from orjson's dicts.
_EVENTS: dict[str, type[BaseModel]] = {
    "messageStart": wire.MessageStart,
    "contentBlockStart": wire.ContentBlockStart,
    "contentBlockStop": wire.ContentBlockStop,
    "messageStop": wire.MessageStop,
    "metadata": wire.Metadata,
}


class StreamReader:
    """ConverseStream events, in order, as domain chunks. Tool calls are numbered in the order they
    start (OpenAI's `index`), whatever content block they sit in; the schema tool of a response_format
    streams as content."""

    def __init__(self, *, response_id: str, created: int, model: str, json_tool: str | None) -> None:
        self._id, self._created, self._model = response_id, created, model
        self._json_tool = json_tool
        self._calls: dict[int, int] = {}  # content block -> tool call number
        self._json_blocks: set[int] = set()
        self._silent: set[int] = set()  # tool blocks whose input has not begun

    def read(self, event_type: object, payload: bytes) -> CompletionChunk | None:
        if event_type == "contentBlockDelta":
            return self._delta(payload)
        model = _EVENTS.get(event_type) if isinstance(event_type, str) else None
        if model is None:
            return None  # an event this version does not know: nothing a client needs
        event = parse(model, payload, f"{event_type} event")
        if isinstance(event, wire.MessageStart):
            return self._chunk(Delta(role="assistant", content=""))
        if isinstance(event, wire.ContentBlockStart):
            return self._start(event)
        if isinstance(event, wire.ContentBlockStop):
            return self._stop(event.contentBlockIndex)
        if isinstance(event, wire.MessageStop):
            reason = finish_reason(event.stopReason, only_json_tool=not self._calls) or FinishReason.STOP
            return self._chunk(Delta(), reason, stop_sequence(event.additionalModelResponseFields))
        assert isinstance(event, wire.Metadata)
        return CompletionChunk(
            id=self._id, created=self._created, model=self._model, usage=usage(event.usage)
        )

    def _start(self, event: wire.ContentBlockStart) -> CompletionChunk | None:
        use = event.start.toolUse if event.start is not None else None
        if use is None:
            return None
        block = event.contentBlockIndex
        self._silent.add(block)
        if self._json_tool is not None and use.name == self._json_tool:
            self._json_blocks.add(block)
            return None
        number = self._calls[block] = len(self._calls)
        return self._chunk(Delta(tool_calls=(ToolCallDelta(number, use.toolUseId, use.name or "", ""),)))

    def _delta(self, payload: bytes) -> CompletionChunk | None:
        try:
            event = orjson.loads(payload)
            delta = event["delta"]
            text = delta.get("text")
            if text is not None:
                return self._chunk(Delta(content=_string(text)))
            tool = delta.get("toolUse")
            if tool is not None:
                return self._tool_input(
                    _index(event.get("contentBlockIndex", 0)), _string(tool.get("input") or "")
                )
            reasoning = delta.get("reasoningContent")
            if reasoning is not None:
                return self._reasoning(reasoning)
            return None  # a citation, or a delta this version does not know
        except (orjson.JSONDecodeError, KeyError, AttributeError, TypeError) as exc:
            raise BadGatewayError(
                f"Bedrock sent a malformed contentBlockDelta event: {payload[:200]!r}"
            ) from exc

    def _reasoning(self, delta: dict[str, Any]) -> CompletionChunk | None:
        """Claude's reasoning streams as text, then the signature that closes the block; a redacted
        block comes whole."""
        if thought := delta.get("text"):
            return self._chunk(Delta(reasoning_content=_string(thought)))
        if signature := delta.get("signature"):
            return self._chunk(Delta(thinking_signature=_string(signature)))
        if redacted := delta.get("redactedContent"):
            return self._chunk(Delta(redacted_thinking=_string(redacted)))
        return None

    def _tool_input(self, block: int, fragment: str) -> CompletionChunk | None:
        if not fragment:
            return None
        self._silent.discard(block)
        if block in self._json_blocks:
            return self._chunk(Delta(content=fragment))
        if block in self._calls:
            return self._chunk(Delta(tool_calls=(ToolCallDelta(self._calls[block], arguments=fragment),)))
        return None

    def _stop(self, block: int) -> CompletionChunk | None:
        if block not in self._silent:
            return None
        self._silent.discard(block)
        # A call without input (a tool of no parameters) still has arguments: the empty object.
        if block in self._json_blocks:
            return self._chunk(Delta(content="{}"))
        return self._chunk(Delta(tool_calls=(ToolCallDelta(self._calls[block], arguments="{}"),)))

    def _chunk(
        self, delta: Delta, finish: FinishReason | None = None, stop: str | None = None
    ) -> CompletionChunk:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish, stop_sequence=stop)
        return CompletionChunk(id=self._id, created=self._created, model=self._model, choices=(choice,))


def _string(value: object) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")


def _index(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected a content block index, got {type(value).__name__}")
