"""The events of a domain chunk stream, one chunk at a time: the writer behind response_events."""

from __future__ import annotations

from typing import Any

import orjson

from adapters.responses_format.items import REDACTED, new_id
from adapters.responses_format.render import (
    ENCRYPTED,
    custom_input,
    failed_response,
    hidden,
    message_item,
    outcome,
    output_text,
    pending_response,
    shell,
    usage_of,
    visible,
)
from adapters.responses_format.requests import ResponsesCall
from domain.completions import CompletionChunk, FinishReason, ToolCallDelta, Usage
from domain.errors import SwitchyardError

# The deltas are most of a stream: written from fixed pieces, only the sequence number and the value
# encoded (the item's own part, `"item_id":...,"delta":`, is made once per item).
_TEXT = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":'
_REFUSAL = b'event: response.refusal.delta\ndata: {"type":"response.refusal.delta","sequence_number":'
_ARGUMENTS = (
    b"event: response.function_call_arguments.delta\n"
    b'data: {"type":"response.function_call_arguments.delta","sequence_number":'
)
_SUMMARY = (
    b"event: response.reasoning_summary_text.delta\n"
    b'data: {"type":"response.reasoning_summary_text.delta","sequence_number":'
)
_TEXT_END = b',"logprobs":[]}\n\n'
_CREATED = b'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":'
_IN_PROGRESS = (
    b'event: response.in_progress\ndata: {"type":"response.in_progress","sequence_number":1,"response":'
)
_END = b"}\n\n"


class _Item:
    """An output item as it streams."""

    __slots__ = ("closed", "content_index", "head", "index", "item", "kind", "part", "texts")

    def __init__(self, kind: str, item: dict[str, Any], index: int) -> None:
        self.kind = kind
        self.item = item
        self.index = index
        self.head = b""
        self.texts: list[str] = []
        self.part: str | None = None
        """The kind of the content part open in a message (a reasoning item's open summary part)."""
        self.content_index = -1
        self.closed = False


class ResponseEventWriter:
    """Chunks in, events out. response.created and response.in_progress go out with the first chunk;
    each kind of output gets its own item (reasoning, a message, each tool call), an item done when the
    next one starts; the terminal event carries the whole response with its usage."""

    __slots__ = (
        "_call",
        "_calls",
        "_finish",
        "_head",
        "_open",
        "_output",
        "_sequence",
        "_show",
        "_started",
        "_texts",
        "_tier",
        "_usage",
        "created_at",
        "done",
        "response_id",
    )

    def __init__(self, call: ResponsesCall, response_id: str, created_at: int) -> None:
        self._call = call
        self.response_id = response_id
        self.created_at = created_at
        self._sequence = 0
        self._output: list[dict[str, Any]] = []
        self._open: _Item | None = None
        self._texts: list[str] | None = None
        """The texts of the open output_text part, if one is open (the path most deltas take)."""
        self._head = b""
        self._calls: dict[int, _Item] = {}
        """The domain's tool-call index -> that call's item."""
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None
        self._tier: str | None = None
        self._show = ENCRYPTED in call.include
        self._started = False
        self.done = False
        """Whether the terminal event's response went to `finished` already."""

    def feed(self, chunk: CompletionChunk, out: list[bytes]) -> None:
        """Appends to `out` the events one chunk stands for."""
        if not self._started:
            self._start(out)
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.service_tier is not None:
            self._tier = chunk.service_tier
        for choice in chunk.choices:
            if choice.index:
                continue  # a response has one reply
            delta = choice.delta
            if delta.reasoning_content:
                self._reasoning(delta.reasoning_content, out)
            if delta.thinking_signature is not None:
                self._signature(delta.thinking_signature, out)
            if delta.redacted_thinking is not None:
                item = self._open_item(
                    "reasoning", {"id": new_id("rs"), "type": "reasoning", "summary": []}, out
                )
                item.item["encrypted_content"] = REDACTED + delta.redacted_thinking
                self._close(out)
            content = delta.content
            if content:
                texts = self._texts
                if texts is None:
                    self._text("output_text", content, out)
                else:
                    texts.append(content)
                    sequence = self._sequence
                    self._sequence = sequence + 1
                    out.append(
                        b"".join((_TEXT, b"%d" % sequence, self._head, orjson.dumps(content), _TEXT_END))
                    )
            if delta.refusal:
                self._text("refusal", delta.refusal, out)
            for call in delta.tool_calls:
                self._tool_call(call, out)
            if choice.finish_reason is not None:
                self._finish = choice.finish_reason

    def finish(self, out: list[bytes]) -> dict[str, Any]:
        """Appends the events that end the last item; the whole response."""
        if not self._started:
            self._start(out)
        status, incomplete = outcome(self._finish)
        self._close(out, status)
        return shell(
            self._call,
            self.response_id,
            self.created_at,
            status,
            incomplete=incomplete,
            output=self._output,
            usage=usage_of(self._usage),
            service_tier=self._tier,
        )

    def fail(self, error: SwitchyardError, out: list[bytes]) -> dict[str, Any]:
        """The failed response, its output as it stands (the open item incomplete: no event says it
        is done, lest a client run half a tool call)."""
        if not self._started:
            self._start(out)
        sequence = self._sequence
        self._close([], "incomplete")
        self._sequence = sequence
        body = failed_response(
            self._call, response_id=self.response_id, created_at=self.created_at, error=error
        )
        body["output"] = self._output
        return body

    def terminal(self, body: dict[str, Any]) -> bytes:
        """The event that ends the stream with `body`, as the client may see it."""
        kind = "response.completed" if body["status"] == "completed" else f"response.{body['status']}"
        return self._event(kind, {"response": visible(body, self._call.include)})

    def _start(self, out: list[bytes]) -> None:
        self._started = True
        response = orjson.dumps(
            pending_response(
                self._call, response_id=self.response_id, created_at=self.created_at, status="in_progress"
            )
        )
        # The same response twice: encoded once.
        self._sequence = 2
        out.append(_CREATED + response + _END)
        out.append(_IN_PROGRESS + response + _END)

    def _text(self, kind: str, value: str, out: list[bytes]) -> None:
        item = self._open
        if item is None or item.part != kind or item.kind != "message":
            item = self._message_part(kind, out)
        item.texts.append(value)
        sequence = self._sequence
        self._sequence = sequence + 1
        if kind == "output_text":
            self._texts = item.texts
            self._head = item.head
            out.append(_TEXT + b"%d" % sequence + item.head + orjson.dumps(value) + _TEXT_END)
        else:
            out.append(_REFUSAL + b"%d" % sequence + item.head + orjson.dumps(value) + _END)

    def _message_part(self, kind: str, out: list[bytes]) -> _Item:
        item = self._open
        if item is None or item.kind != "message":
            item = self._open_item("message", message_item(new_id("msg"), [], "in_progress"), out)
        else:
            self._close_part(item, out)
        item.part = kind
        item.content_index = index = len(item.item["content"])
        item.texts = []
        part = output_text("") if kind == "output_text" else {"type": "refusal", "refusal": ""}
        out.append(self._event("response.content_part.added", self._at(item, content_index=index, part=part)))
        item.head = b',"item_id":"%s","output_index":%d,"content_index":%d,"delta":' % (
            item.item["id"].encode(),
            item.index,
            index,
        )
        return item

    def _close_part(self, item: _Item, out: list[bytes]) -> None:
        self._texts = None
        if item.part is None:
            return
        value = "".join(item.texts)
        index = item.content_index
        if item.part == "output_text":
            part = output_text(value)
            out.append(
                self._event(
                    "response.output_text.done", self._at(item, content_index=index, text=value, logprobs=[])
                )
            )
        else:
            part = {"type": "refusal", "refusal": value}
            out.append(
                self._event("response.refusal.done", self._at(item, content_index=index, refusal=value))
            )
        out.append(self._event("response.content_part.done", self._at(item, content_index=index, part=part)))
        item.item["content"].append(part)
        item.part = None

    def _reasoning(self, value: str, out: list[bytes]) -> None:
        item = self._open
        if item is None or item.kind != "reasoning":
            item = self._open_item("reasoning", {"id": new_id("rs"), "type": "reasoning", "summary": []}, out)
        if item.part is None:
            item.part = "summary_text"
            part = {"type": "summary_text", "text": ""}
            out.append(
                self._event(
                    "response.reasoning_summary_part.added", self._at(item, summary_index=0, part=part)
                )
            )
            item.head = b',"item_id":"%s","output_index":%d,"summary_index":0,"delta":' % (
                item.item["id"].encode(),
                item.index,
            )
        item.texts.append(value)
        sequence = self._sequence
        self._sequence = sequence + 1
        out.append(_SUMMARY + b"%d" % sequence + item.head + orjson.dumps(value) + _END)

    def _signature(self, signature: str, out: list[bytes]) -> None:
        # The signature closes its thinking block: more reasoning after it is another item.
        item = self._open
        if item is None or item.kind != "reasoning":
            item = self._open_item("reasoning", {"id": new_id("rs"), "type": "reasoning", "summary": []}, out)
        if signature:
            item.item["encrypted_content"] = signature
        self._close(out)

    def _tool_call(self, call: ToolCallDelta, out: list[bytes]) -> None:
        item = self._calls.get(call.index)
        if item is None:
            item = self._open_call(call, out)
        if not call.arguments:
            return
        item.texts.append(call.arguments)
        if item.kind == "custom_tool_call":
            if item.closed:
                # A fragment after its call was done (a provider interleaving parallel calls): the
                # response still holds the whole input.
                item.item["input"] = custom_input("".join(item.texts))
            return  # the input is sent whole when the call is done (it is JSON until then)
        if item.closed:
            item.item["arguments"] += call.arguments
        sequence = self._sequence
        self._sequence = sequence + 1
        out.append(_ARGUMENTS + b"%d" % sequence + item.head + orjson.dumps(call.arguments) + _END)

    def _open_call(self, call: ToolCallDelta, out: list[bytes]) -> _Item:
        original = self._call.tools.original(call.name or "")
        call_id = call.id or new_id("call")
        head: dict[str, Any]
        if original.custom:
            head = {"id": new_id("ctc"), "type": "custom_tool_call", "call_id": call_id, "input": ""}
        else:
            head = {"id": new_id("fc"), "type": "function_call", "status": "in_progress", "arguments": ""}
            head["call_id"] = call_id
        head["name"] = original.name
        if original.namespace is not None:
            head["namespace"] = original.namespace
        item = self._open_item(head["type"], head, out)
        item.head = b',"item_id":"%s","output_index":%d,"delta":' % (head["id"].encode(), item.index)
        self._calls[call.index] = item
        return item

    def _open_item(self, kind: str, head: dict[str, Any], out: list[bytes]) -> _Item:
        self._close(out)
        item = _Item(kind, head, len(self._output))
        self._output.append(head)
        self._open = item
        out.append(self._event("response.output_item.added", {"output_index": item.index, "item": head}))
        return item

    def _close(self, out: list[bytes], status: str = "completed") -> None:
        """Appends the events that finish the open item, if any."""
        item = self._open
        if item is None:
            return
        self._open = None
        item.closed = True
        head = item.item
        kind = item.kind
        if kind == "message":
            self._close_part(item, out)
            head["status"] = status
        elif kind == "reasoning":
            if item.part is not None:
                value = "".join(item.texts)
                part = {"type": "summary_text", "text": value}
                out.append(
                    self._event(
                        "response.reasoning_summary_text.done", self._at(item, summary_index=0, text=value)
                    )
                )
                out.append(
                    self._event(
                        "response.reasoning_summary_part.done", self._at(item, summary_index=0, part=part)
                    )
                )
                head["summary"] = [part]
        elif kind == "function_call":
            head["arguments"] = arguments = "".join(item.texts)
            head["status"] = status
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    self._at(item, arguments=arguments, name=head["name"]),
                )
            )
        else:
            head["input"] = value = custom_input("".join(item.texts))
            if value:
                out.append(self._event("response.custom_tool_call_input.delta", self._at(item, delta=value)))
            out.append(self._event("response.custom_tool_call_input.done", self._at(item, input=value)))
        shown = head if self._show else hidden(head)
        out.append(self._event("response.output_item.done", {"output_index": item.index, "item": shown}))

    @staticmethod
    def _at(item: _Item, **fields: Any) -> dict[str, Any]:
        return {"item_id": item.item["id"], "output_index": item.index, **fields}

    def _event(self, kind: str, fields: dict[str, Any]) -> bytes:
        sequence = self._sequence
        self._sequence = sequence + 1
        payload = orjson.dumps({"type": kind, "sequence_number": sequence, **fields})
        return b"".join((b"event: ", kind.encode(), b"\ndata: ", payload, b"\n\n"))
