"""A scripted OpenAI upstream that serves the Responses API itself, on a real socket, for end-to-end tests of
the gateway's native pass-through; it serves chat completions too, as OpenAI does.

`POST /v1/responses`; the model id picks the scenario:

- `gpt-resp`: a text reply (`TEXT`), whole or streamed.
- `gpt-resp-slow`: the same, `SLOW` seconds after the request came (a background call to cancel); so is
  its chat completion. A request the gateway hangs up on meanwhile is not answered; its model id is
  noted in `hangups`.

Whole replies are written as OpenAI writes them (indented JSON); streams as OpenAI streams them (`event:`
then one `data:` line of compact JSON with its `sequence_number`, `obfuscation` on deltas, no `[DONE]`),
one event per write. Shapes are those of tests/contract/fixtures/responses/ and the SDK's
`types/responses/`. Each reply has an id of its own; the request record keeps the bytes answered
(`answer`).

`POST /v1/chat/completions`, whatever the model: a call of the request's first tool with the one argument
`{"input": PATCH}` (what a custom tool's call is once translated to a function), whole or streamed; without
tools, the text `CHAT_TEXT`.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from typing import Any

from tests.e2e.fake_server import FakeHandler, FakeServer
from tests.e2e.upstream import chunk, completion, error_body, usage_chunk

TEXT_PIECES = ["Hello", " from", " Responses", "! ✨"]
TEXT = "".join(TEXT_PIECES)
USAGE = {
    "input_tokens": 21,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 28,
}
CHAT_TEXT = "Hello from chat completions!"
SLOW = 1.0
PATCH = (
    '*** Begin Patch\n*** Update File: greet.py\n@@\n-    return "Hello!"\n+    return f"Hello, {name}!"\n'
    "*** End Patch"
)


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def response(request: dict[str, Any], id: str, status: str, output: list[dict], usage: dict | None) -> dict:
    """The response object as OpenAI answers `request` (its settings echoed, OpenAI's defaults for the
    rest)."""
    reasoning = request.get("reasoning") or {}
    return {
        "id": id,
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": f"{request['model']}-2025-04-14",
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": None,
        "service_tier": "default",
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools", []),
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": request.get("metadata", {}),
    }


def message(id: str, status: str, text: str | None) -> dict:
    parts = [] if text is None else [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}]
    return {"id": id, "type": "message", "status": status, "content": parts, "role": "assistant"}


def stream_events(request: dict[str, Any]) -> list[tuple[str, dict]]:
    """The events of a text reply to `request`, in order, without their sequence numbers."""
    id, item_id = _id("resp"), _id("msg")
    started = response(request, id, "in_progress", [], None)
    at = {"item_id": item_id, "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    done = message(item_id, "completed", TEXT)
    return [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
        ("response.output_item.added", {"output_index": 0, "item": message(item_id, "in_progress", None)}),
        ("response.content_part.added", {**at, "part": part}),
        *(
            ("response.output_text.delta", {**at, "delta": piece, "logprobs": [], "obfuscation": "x7"[:size]})
            for size, piece in enumerate(TEXT_PIECES, 1)
        ),
        ("response.output_text.done", {**at, "text": TEXT, "logprobs": []}),
        ("response.content_part.done", {**at, "part": {**part, "text": TEXT}}),
        ("response.output_item.done", {"output_index": 0, "item": done}),
        ("response.completed", {"response": response(request, id, "completed", [done], USAGE)}),
    ]


class _Handler(FakeHandler):
    server: FakeResponses

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        sent = self.record(body, received_at=time.monotonic())
        if body["model"] == "gpt-resp-slow":
            time.sleep(SLOW)
            if self._hung_up():
                self.server.hangups.append(body["model"])
                self.close_connection = True
                return None
        if self.path.endswith("/chat/completions"):
            return self._chat(body)
        if self.path != "/v1/responses":
            return self.send_json(404, error_body(f"Not found: {self.path}", "invalid_request_error", None))
        if body.get("stream"):
            return self._stream(body, sent)
        whole = response(body, _id("resp"), "completed", [message(_id("msg"), "completed", TEXT)], USAGE)
        sent["answer"] = data = json.dumps(whole, indent=2, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_e2e")
        self.end_headers()
        self.wfile.write(data)
        return None

    def _stream(self, body: dict, sent: dict) -> None:
        self.start_chunks("text/event-stream; charset=utf-8", {"x-request-id": "req_e2e"})
        written = []
        for sequence, (name, fields) in enumerate(stream_events(body)):
            event = {"type": name, "sequence_number": sequence, **fields}
            payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
            written.append(f"event: {name}\ndata: {payload}\n\n".encode())
            self.send_chunk(written[-1])
        sent["answer"] = b"".join(written)
        self.send_chunk(b"")

    def _hung_up(self) -> bool:
        try:
            return self.connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False  # still there, and nothing more to read
        except OSError:
            return True

    def _chat(self, body: dict) -> None:
        model = body["model"]
        if not body.get("tools"):
            return self.send_json(200, completion(model, {"role": "assistant", "content": CHAT_TEXT}))
        name = body["tools"][0]["function"]["name"]
        arguments = json.dumps({"input": PATCH})
        call = {"id": "call_e2ePatch", "type": "function", "function": {"name": name, "arguments": arguments}}
        if not body.get("stream"):
            reply = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
            return self.send_json(200, completion(model, reply, "tool_calls"))
        opening = {**call, "index": 0, "function": {"name": name, "arguments": ""}}
        pieces = [arguments[i : i + 20] for i in range(0, len(arguments), 20)]
        events = [
            chunk(model, {"role": "assistant", "content": None, "tool_calls": [opening]}),
            *(chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces),
            chunk(model, {}, "tool_calls"),
            usage_chunk(model),
        ]
        self.start_chunks("text/event-stream")
        for event in events:
            self.send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.send_chunk(b"data: [DONE]\n\n")
        self.send_chunk(b"")
        return None


class FakeResponses(FakeServer):
    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self.hangups: list[str] = []

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def received(self, model: str) -> list[dict]:
        """The requests recorded so far for the upstream model `model`, oldest first."""
        return [r for r in self.requests if r["body"].get("model") == model]
