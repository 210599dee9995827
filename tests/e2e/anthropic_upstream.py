"""A scripted Anthropic Messages API on a real socket, for end-to-end tests.

`POST /v1/messages` only; the upstream model id picks the scenario: `claude-ok` (text, with prompt-cache
usage), `claude-tools` (a tool_use block), `claude-overloaded` (529 overloaded_error), `claude-rate-limited`
(429 rate_limit_error with retry-after). Streams use Anthropic's event format: message_start,
content_block_start / _delta / _stop, ping, message_delta and message_stop, one SSE event per write.
"""

from __future__ import annotations

import json

from tests.e2e.fake_server import FakeHandler, FakeServer

TEXT = ["Hello", " from", " Claude", "!"]
TOOL = {"id": "toolu_01E2EWeatherCall", "name": "get_weather"}
ARGUMENT_PIECES = ['{"ci', 'ty": "Par', 'is"}']
USAGE = {
    "input_tokens": 4,
    "cache_creation_input_tokens": 2,
    "cache_read_input_tokens": 6,
    "output_tokens": 5,
}


def message(model: str, content: list[dict], stop_reason: str) -> dict:
    return {
        "id": "msg_01E2EReply",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {**USAGE, "service_tier": "standard"},
    }


def error_body(kind: str, text: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": text}, "request_id": "req_01E2E"}


def stream_events(model: str) -> list[tuple[str, dict]]:
    start = message(model, [], "end_turn") | {"stop_reason": None}
    start["usage"] = {**USAGE, "output_tokens": 1}
    events: list[tuple[str, dict]] = [("message_start", {"type": "message_start", "message": start})]
    if model == "claude-tools":
        block = {"type": "tool_use", **TOOL, "input": {}}
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        )
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "input_json_delta", "partial_json": piece}})
            for piece in ["", *ARGUMENT_PIECES]
        ]  # fmt: skip
        stop_reason = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        )
        events.append(("ping", {"type": "ping"}))
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": word}})
            for word in TEXT
        ]  # fmt: skip
        stop_reason = "end_turn"
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    delta = {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
             "usage": {"output_tokens": USAGE["output_tokens"]}}  # fmt: skip
    events.append(("message_delta", delta))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class _Handler(FakeHandler):
    server: FakeAnthropic
    json_headers = {"request-id": "req_01E2E"}

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        self.record(body)
        model = body.get("model", "")
        if self.path != "/v1/messages":
            return self.send_json(404, error_body("not_found_error", f"Not found: {self.path}"))
        if model == "claude-overloaded":
            return self.send_json(529, error_body("overloaded_error", "Overloaded"))
        if model == "claude-rate-limited":
            text = "This request would exceed the rate limit for your organization of 50 requests per minute."
            return self.send_json(429, error_body("rate_limit_error", text), {"retry-after": "4"})
        if body.get("stream"):
            return self._stream(model)
        if model == "claude-tools":
            block = {"type": "tool_use", **TOOL, "input": json.loads("".join(ARGUMENT_PIECES))}
            return self.send_json(200, message(model, [block], "tool_use"))
        return self.send_json(200, message(model, [{"type": "text", "text": "".join(TEXT)}], "end_turn"))

    def _stream(self, model: str) -> None:
        self.start_chunks("text/event-stream; charset=utf-8", {"cache-control": "no-cache"})
        for name, data in stream_events(model):
            self.send_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.send_chunk(b"")


class FakeAnthropic(FakeServer):
    handler = _Handler
