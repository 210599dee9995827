"""What an upstream speaking the Responses API answered, read into the domain: a whole `response` object,
and a stream of its events, whose chunks carry the upstream's bytes exactly as received.

The domain view is for metering, logs and the gateway's own checks; a native client gets the upstream's
own body or bytes. Output items map as follows (names as in the official SDK's `types/responses/`):

    message (output_text / refusal parts)   -> content / refusal
    function_call                            -> ToolCall(call_id, `<namespace>__<name>` or name, arguments)
    custom_tool_call                         -> ToolCall(call_id, name, JSON text of {"input": input})
    reasoning (summary, else reasoning_text) -> reasoning_content, and a ThinkingBlock per item whose
                                                signature is its encrypted_content
    other items (hosted tool calls, ...)     -> nothing
    status completed / incomplete            -> finish_reason (tool_calls when a call was made; length
                                                for max_output_tokens, content_filter for content_filter)
    usage                                    -> Usage (cached_tokens, cache_write_tokens, reasoning_tokens)
    `error` set, status failed, an `error` or `response.failed` event -> the domain error it names
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any

from adapters.llm.native_events import native_batches
from adapters.llm.openai.errors import upstream_error
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

_INCOMPLETE = {"max_output_tokens": FinishReason.LENGTH, "content_filter": FinishReason.CONTENT_FILTER}
# A failed response's `error.code` (ResponseError.code) says what failed; the shared OpenAI table reads
# an error without a status by its type. Codes not listed here are the request's fault (invalid_prompt,
# the image_* codes, data_residency_mismatch, ...).
_TYPE_BY_CODE = {
    "server_error": "server_error",
    "rate_limit_exceeded": "rate_limit_error",
    "insufficient_quota": "insufficient_quota",
    "vector_store_timeout": "timeout_error",
}
_FAILED = "The upstream failed to generate the response."
_EVENT_FIELDS = frozenset({"type", "sequence_number"})
_POLICY_CODES = frozenset({"bio_policy", "misalignment_policy_violation", "image_content_policy_violation"})
# The escaped pieces of a custom tool's input, joined, spell json.dumps({"input": input}).
_CUSTOM_OPEN, _CUSTOM_CLOSE = '{"input": "', '"}'
# The end of an SSE event: a line ending, then an empty line. A CR is a line ending of its own only
# when no LF follows it (CRLF is one ending, never two).


def read_response(payload: object) -> CompletionResponse:
    """A decoded Responses API `response` object, with `native` holding it as received; the domain error
    it reports when it failed, BadGatewayError when it is no response at all."""
    if not isinstance(payload, dict):
        raise _malformed("it is not an object")
    failure = _failure_of(payload)
    if failure is not None:
        raise failure
    output = payload.get("output")
    if not isinstance(output, list):
        raise _malformed("output: not a list")
    message = _message(output)
    return CompletionResponse(
        id=_string(payload.get("id")),
        created=_timestamp(payload.get("created_at")),
        model=_string(payload.get("model")),
        choices=(Choice(0, message, _finish(payload, called=bool(message.tool_calls))),),
        usage=_usage(payload.get("usage")),
        service_tier=payload.get("service_tier") if isinstance(payload.get("service_tier"), str) else None,
        native=payload,
    )


async def read_stream(pieces: AsyncIterable[bytes]) -> AsyncIterator[list[CompletionChunk]]:
    """The chunks of a Responses API stream, a batch per piece read that completed any event. Each
    chunk's `native` holds the bytes of the whole events read since the chunk before it, so that the
    `native` bytes of all chunks, joined, are the upstream's stream byte for byte, up to an `error` or
    `response.failed` event: that is raised as its domain error after the batch before it. A malformed
    event, or a stream that ends before `response.completed` (or `response.incomplete`), raises
    BadGatewayError after what came before it."""
    async for batch in native_batches(pieces, StreamReader()):
        yield batch


class StreamReader:
    """Reads whole events of one Responses stream into chunks; `done` once the response completed."""

    __slots__ = ("_calls", "_count", "_created", "_custom", "_id", "_model", "_silent", "done")

    def __init__(self) -> None:
        self._id = ""
        self._model = ""
        self._created = 0
        self._calls: dict[str | int, int] = {}
        """A tool call's item id and output index -> its index among the calls."""
        self._count = 0
        self._silent: set[int] = set()
        """Calls whose arguments have not come yet."""
        self._custom: set[int] = set()
        """Custom tool calls: their input is carried as the JSON text of {"input": ...}."""
        self.done = False

    def bare(self, native: bytes) -> CompletionChunk:
        return CompletionChunk(self._id, self._created, self._model, native=native)

    def malformed(self, event: str, data: bytes, error: Exception) -> SwitchyardError:
        # An error event in a shape of its own (a proxy's) is still the error it names.
        return upstream_error(None, data) if event == "error" else _malformed_event(data, error)

    def truncated(self) -> SwitchyardError:
        return BadGatewayError("The Responses stream ended before its response.completed event.")

    def feed(self, payload: dict[str, Any], out: list[CompletionChunk]) -> None:
        """Appends the chunks one decoded event stands for; raises the error an error event reports."""
        kind = payload.get("type")
        if kind == "response.output_text.delta":
            if text := _delta(payload):
                out.append(self._chunk(Delta(content=text)))
        elif kind == "response.function_call_arguments.delta":
            slot = self._slot(payload)
            if slot is not None and (fragment := _delta(payload)):
                self._arguments(slot, fragment, out)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            if text := _delta(payload):
                out.append(self._chunk(Delta(reasoning_content=text)))
        elif kind == "response.custom_tool_call_input.delta":
            slot = self._slot(payload)
            if slot is not None and (fragment := _delta(payload)):
                self._arguments(slot, _escaped(fragment), out)
        elif kind == "response.reasoning_summary_part.added":
            if payload.get("summary_index"):  # the parts of one summary are paragraphs
                out.append(self._chunk(Delta(reasoning_content="\n\n")))
        elif kind == "response.refusal.delta":
            if text := _delta(payload):
                out.append(self._chunk(Delta(refusal=text)))
        elif kind == "response.output_item.added":
            self._item_added(payload["item"], payload.get("output_index"), out)
        elif kind == "response.output_item.done":
            self._item_done(payload["item"], payload.get("output_index"), out)
        elif kind in ("response.completed", "response.incomplete"):
            self._end(payload["response"], out)
        elif kind == "response.created":
            response = payload["response"]
            self._id = _string(response.get("id"))
            self._model = _string(response.get("model"))
            self._created = _timestamp(response.get("created_at"))
            out.append(self._chunk(Delta(role="assistant")))
        elif kind == "response.failed":
            raise _failure_of(payload["response"]) or _error({"message": _FAILED})
        elif kind == "error":
            details = payload.get("error")
            if not isinstance(details, dict):  # the SDK's ResponseErrorEvent: code, message, param
                details = {key: value for key, value in payload.items() if key not in _EVENT_FIELDS}
            raise _error(details)

    def _item_added(self, item: dict[str, Any], index: object, out: list[CompletionChunk]) -> None:
        kind = item["type"]
        if kind not in ("function_call", "custom_tool_call"):
            return
        slot = self._count
        self._count += 1
        for key in (item.get("id"), index):
            if isinstance(key, str | int):
                self._calls[key] = slot
        if kind == "function_call":
            given = item.get("arguments")
            arguments = given if isinstance(given, str) else ""
        else:
            self._custom.add(slot)
            given = item.get("input")
            arguments = _CUSTOM_OPEN + (_escaped(given) if isinstance(given, str) else "")
        if not given:
            self._silent.add(slot)
        head = ToolCallDelta(slot, id=_required(item, "call_id"), name=_tool_name(item), arguments=arguments)
        out.append(self._chunk(Delta(tool_calls=(head,))))

    def _item_done(self, item: dict[str, Any], index: object, out: list[CompletionChunk]) -> None:
        kind = item["type"]
        if kind == "reasoning":
            signature = item.get("encrypted_content")
            if isinstance(signature, str) and signature:
                out.append(self._chunk(Delta(thinking_signature=signature)))
            return
        if kind not in ("function_call", "custom_tool_call"):
            return
        slot = self._call(item.get("id"), index)
        if slot is None:
            return
        # A call whose arguments came whole in this event and in no delta before it.
        whole = item.get("arguments" if kind == "function_call" else "input")
        if slot in self._silent and isinstance(whole, str) and whole:
            self._arguments(slot, whole if kind == "function_call" else _escaped(whole), out)
        if slot in self._custom:
            self._custom.discard(slot)
            out.append(self._chunk(Delta(tool_calls=(ToolCallDelta(slot, arguments=_CUSTOM_CLOSE),))))

    def _end(self, response: dict[str, Any], out: list[CompletionChunk]) -> None:
        reason = _finish(response, called=self._count > 0)
        end = CompletionChunk(self._id, self._created, self._model, (ChunkChoice(0, Delta(), reason),))
        out.append(end)
        out.append(CompletionChunk(self._id, self._created, self._model, usage=_usage(response.get("usage"))))
        self.done = True

    def _slot(self, payload: Mapping[str, Any]) -> int | None:
        return self._call(payload.get("item_id"), payload.get("output_index"))

    def _call(self, item_id: object, index: object) -> int | None:
        """The call an event is about, by its item id, else by its output index."""
        slot = self._calls.get(item_id) if isinstance(item_id, str) else None
        if slot is None and isinstance(index, int):
            slot = self._calls.get(index)
        return slot

    def _arguments(self, slot: int, fragment: str, out: list[CompletionChunk]) -> None:
        self._silent.discard(slot)
        out.append(self._chunk(Delta(tool_calls=(ToolCallDelta(slot, arguments=fragment),))))

    def _chunk(self, delta: Delta) -> CompletionChunk:
        return CompletionChunk(self._id, self._created, self._model, (ChunkChoice(0, delta),))


def _message(output: list[Any]) -> Message:
    texts: list[str] = []
    refusals: list[str] = []
    reasoning: list[str] = []
    blocks: list[ThinkingBlock] = []
    calls: list[ToolCall] = []
    for position, item in enumerate(output):
        if not isinstance(item, dict):
            raise _malformed(f"output.{position}: not an object")
        kind = item.get("type")
        try:
            if kind == "message":
                for part in item.get("content") or ():
                    if part.get("type") == "output_text":
                        texts.append(_required(part, "text"))
                    elif part.get("type") == "refusal":
                        refusals.append(_required(part, "refusal"))
            elif kind == "function_call":
                arguments = item.get("arguments")
                calls.append(
                    ToolCall(
                        id=_required(item, "call_id"),
                        name=_tool_name(item),
                        arguments=arguments if isinstance(arguments, str) else "",
                    )
                )
            elif kind == "custom_tool_call":
                given = item.get("input")
                arguments = json.dumps({"input": given if isinstance(given, str) else ""})
                call_id = _required(item, "call_id")
                calls.append(ToolCall(id=call_id, name=_tool_name(item), arguments=arguments))
            elif kind == "reasoning":
                text = _reasoning_text(item)
                signature = item.get("encrypted_content")
                signature = signature if isinstance(signature, str) and signature else None
                reasoning.append(text)
                if text or signature:
                    blocks.append(ThinkingBlock(text, signature))
        except (KeyError, TypeError, AttributeError) as exc:
            raise _malformed(f"output.{position}: {exc}") from exc
    return Message(
        role=Role.ASSISTANT,
        content="".join(texts) or None,
        tool_calls=tuple(calls),
        reasoning_content="".join(reasoning) or None,
        refusal="".join(refusals) or None,
        thinking_blocks=tuple(blocks),
    )


def _reasoning_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's summary, its parts as paragraphs; else its raw reasoning text (which hosts
    serving open-weight models send instead)."""
    summary = [_required(part, "text") for part in item.get("summary") or ()]
    if summary:
        return "\n\n".join(summary)
    return "".join(_required(part, "text") for part in item.get("content") or ())


def _tool_name(item: Mapping[str, Any]) -> str:
    name = _required(item, "name")
    namespace = item.get("namespace")
    return f"{namespace}__{name}" if isinstance(namespace, str) and namespace else name


def _required(container: Mapping[str, Any], key: str) -> str:
    value = container[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _delta(payload: Mapping[str, Any]) -> str:
    return _required(payload, "delta")


def _escaped(text: str) -> str:
    """`text` as it stands inside a JSON string, as json.dumps writes it."""
    return json.dumps(text)[1:-1]


def _finish(response: Mapping[str, Any], *, called: bool) -> FinishReason | None:
    status = response.get("status")
    if status == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return _INCOMPLETE.get(reason, FinishReason.STOP) if isinstance(reason, str) else FinishReason.STOP
    if status in (None, "completed", "cancelled"):
        return FinishReason.TOOL_CALLS if called else FinishReason.STOP
    return None  # queued, in_progress: no end yet


def _usage(used: object) -> Usage | None:
    if not isinstance(used, dict):
        return None
    given = used.get("input_tokens_details")
    taken = used.get("output_tokens_details")
    given = given if isinstance(given, dict) else {}
    taken = taken if isinstance(taken, dict) else {}
    return Usage(
        prompt_tokens=_count(used.get("input_tokens")),
        completion_tokens=_count(used.get("output_tokens")),
        cached_tokens=_count(given.get("cached_tokens")),
        cache_creation_tokens=_count(given.get("cache_write_tokens")),
        reasoning_tokens=_count(taken.get("reasoning_tokens")),
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _timestamp(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _failure_of(response: Mapping[str, Any]) -> SwitchyardError | None:
    """The error a response reports (`error` set, or status failed), if it does."""
    error = response.get("error")
    if error:
        return _error(error if isinstance(error, dict) else {"message": str(error)})
    if response.get("status") == "failed":
        return _error({"message": _FAILED})
    return None


def _error(details: Mapping[str, Any]) -> SwitchyardError:
    """The domain error of an error object of the Responses API: a ResponseError (`code`, `message`,
    `param`), or an API error that also has a `type`."""
    details = dict(details)
    code = details.get("code")
    if not isinstance(details.get("type"), str) or details["type"] == "error":
        known = isinstance(code, str) and bool(code)
        details["type"] = _TYPE_BY_CODE.get(code, "invalid_request_error") if known else "server_error"
    if code in _POLICY_CODES:
        details["code"] = "content_policy_violation"
    return upstream_error(None, {"error": details})


def _malformed(detail: str) -> BadGatewayError:
    return BadGatewayError(f"The upstream sent a malformed Responses API response ({detail}).")


def _malformed_event(data: bytes, exc: Exception) -> BadGatewayError:
    shown = data[:200].decode("utf-8", "replace")
    error = BadGatewayError(f"The upstream sent a malformed Responses stream event: {shown!r}")
    error.__cause__ = exc
    return error
