"""A scripted Anthropic Messages API on a real socket, for end-to-end tests.

`POST /v1/messages` and `POST /v1/messages/count_tokens`; the upstream model id picks the scenario:

- `claude-ok`: text, with prompt-cache usage.
- `claude-tools`: a tool_use block (get_weather {"city": "Paris"}); once the last user turn holds a
  tool_result, a text answer instead (so a tool loop ends).
- `claude-thinking`: a signed thinking block, a redacted_thinking block, then text.
- `claude-thinking-tools`: a signed thinking block, text and a tool_use block; the turn after it, a
  signed thinking block and a text answer. Like the real API, when the request turns thinking on, an
  assistant turn holding tool_use must start with a thinking block with its signature (400 otherwise).
- `claude-stop`: text ended by the request's first stop sequence (stop_reason `stop_sequence`).
- `claude-weather`, `claude-coder`, `claude-notes`: the scripted conversations of
  `tests.e2e.claude_code_session`, each answer the turn for the number of tool_result blocks sent (text,
  then a tool_use, its input streamed in fragments).
- `claude-overloaded` (529 overloaded_error), `claude-rate-limited` (429 rate_limit_error with
  retry-after), on both endpoints.

Streams use Anthropic's event format: message_start, content_block_start / _delta (text_delta,
thinking_delta, signature_delta, input_json_delta) / _stop, a ping after the first block's start,
message_delta and message_stop, one SSE event per write. count_tokens answers `{"input_tokens":
counted(body)}` and, like the real endpoint, refuses fields it does not take (max_tokens, stream, ...).
"""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.claude_code_session import SCRIPTS, scripted_turn
from tests.e2e.fake_server import FakeHandler, FakeServer

TEXT = ["Hello", " from", " Claude", "!"]
TOOL = {"id": "toolu_01E2EWeatherCall", "name": "get_weather"}
ARGUMENT_PIECES = ['{"ci', 'ty": "Par', 'is"}']
THINKING = ["The user wants the weather", " in Paris."]
SIGNATURE = "EqQBCgIYAhIMe2eSignatureOfThinkingBlockAAAAaGgxBdjrkzLoky3dl1pkiMOYds"
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpPe2eRedacted"
ANSWER = ["It is 15 degrees", " in Paris."]
COUNTED_FIELDS = frozenset(
    {"model", "messages", "system", "tools", "tool_choice", "thinking", "cache_control", "output_config",
     "output_format", "context_management", "mcp_servers", "speed"}
)  # fmt: skip
"""What count_tokens takes (the SDK's MessageCountTokensParams); anything else is a 400."""
USAGE = {
    "input_tokens": 4,
    "cache_creation_input_tokens": 2,
    "cache_read_input_tokens": 6,
    "output_tokens": 5,
}
Block = tuple[dict[str, Any], list[str]]
"""A content block as the whole reply holds it, and the pieces its stream sends it in."""


def message(
    model: str, content: list[dict], stop_reason: str | None, stop_sequence: str | None = None
) -> dict:
    return {
        "id": "msg_01E2EReply",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {**USAGE, "service_tier": "standard"},
    }


def error_body(kind: str, text: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": text}, "request_id": "req_01E2E"}


def counted(body: dict) -> int:
    """The input tokens count_tokens answers for `body`: a quarter of the characters of its system,
    messages and tools, as JSON (a test computes it from the body the upstream got)."""
    parts = [body.get(name) for name in ("system", "messages", "tools")]
    return len(json.dumps(parts)) // 4


def _thinking(pieces: list[str]) -> Block:
    return {"type": "thinking", "thinking": "".join(pieces), "signature": SIGNATURE}, pieces


def _text(pieces: list[str]) -> Block:
    return {"type": "text", "text": "".join(pieces)}, pieces


def _tool_use() -> Block:
    return {"type": "tool_use", **TOOL, "input": json.loads("".join(ARGUMENT_PIECES))}, ["", *ARGUMENT_PIECES]


def _pieces(text: str, count: int = 3) -> list[str]:
    """`text` cut in `count` pieces, as a model streams it."""
    size = max(-(-len(text) // count), 1)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _scripted(script: str, body: dict) -> tuple[list[Block], str, str | None]:
    results = sum(
        block.get("type") == "tool_result"
        for turn in body.get("messages") or []
        if isinstance(turn.get("content"), list)
        for block in turn["content"]
    )
    turn = scripted_turn(script, results)
    blocks = [_text(_pieces(turn["text"]))] if turn.get("text") else []
    if call := turn.get("tool_use"):
        blocks.append(({"type": "tool_use", **call}, ["", *_pieces(json.dumps(call["input"]))]))
    return blocks, "tool_use" if call else "end_turn", None


def _after_tool_result(body: dict) -> bool:
    turns = body.get("messages") or []
    last = turns[-1].get("content") if turns else None
    return isinstance(last, list) and any(block.get("type") == "tool_result" for block in last)


def reply_blocks(model: str, body: dict) -> tuple[list[Block], str, str | None]:
    """(blocks, stop_reason, stop_sequence) of the scenario `model` names, for the request `body`."""
    if (script := model.removeprefix("claude-")) in SCRIPTS:
        return _scripted(script, body)
    if model == "claude-tools":
        return (
            ([_text(ANSWER)], "end_turn", None)
            if _after_tool_result(body)
            else ([_tool_use()], "tool_use", None)
        )
    if model == "claude-thinking":
        redacted: Block = ({"type": "redacted_thinking", "data": REDACTED}, [])
        return [_thinking(THINKING), redacted, _text(TEXT)], "end_turn", None
    if model == "claude-thinking-tools":
        if _after_tool_result(body):
            return [_thinking(["It is 15 degrees there."]), _text(ANSWER)], "end_turn", None
        return [_thinking(THINKING), _text(["Let me check."]), _tool_use()], "tool_use", None
    if model == "claude-stop" and body.get("stop_sequences"):
        return [_text(["1, 2, 3, "])], "stop_sequence", body["stop_sequences"][0]
    return [_text(TEXT)], "end_turn", None


def stream_events(model: str, body: dict | None = None) -> list[tuple[str, dict]]:
    blocks, stop_reason, stop_sequence = reply_blocks(model, body or {})
    start = message(model, [], None)
    start["usage"] = {**USAGE, "output_tokens": 1}
    events: list[tuple[str, dict]] = [("message_start", {"type": "message_start", "message": start})]
    for index, (whole, pieces) in enumerate(blocks):
        events += _block_events(index, whole, pieces)
        if index == 0:
            events.insert(2, ("ping", {"type": "ping"}))
    delta = {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
             "usage": {"output_tokens": USAGE["output_tokens"]}}  # fmt: skip
    events.append(("message_delta", delta))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(index: int, whole: dict, pieces: list[str]) -> list[tuple[str, dict]]:
    kind = whole["type"]
    opening = {
        "text": {"type": "text", "text": ""},
        "thinking": {"type": "thinking", "thinking": "", "signature": ""},
        "tool_use": {**whole, "input": {}},
    }.get(kind, whole)  # a redacted_thinking block comes whole in its start
    deltas = {
        "text": [{"type": "text_delta", "text": piece} for piece in pieces],
        "thinking": [{"type": "thinking_delta", "thinking": piece} for piece in pieces]
        + [{"type": "signature_delta", "signature": whole.get("signature", "")}],
        "tool_use": [{"type": "input_json_delta", "partial_json": piece} for piece in pieces],
    }.get(kind, [])
    return [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening}),
        *(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def _unsigned_tool_turn(body: dict) -> str | None:
    """The real API's check when thinking is on: an assistant turn with tool_use starts with a signed
    thinking block. Returns the error message, if the body breaks it."""
    if (body.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
        return None
    for position, turn in enumerate(body.get("messages") or []):
        content = turn.get("content")
        if turn.get("role") != "assistant" or not isinstance(content, list):
            continue
        if any(block.get("type") == "tool_use" for block in content):
            first = content[0]
            signed = first.get("type") == "redacted_thinking" or (
                first.get("type") == "thinking" and first.get("signature")
            )
            if not signed:
                found = first.get("type")
                return (
                    f"messages.{position}.content.0.type: Expected `thinking` or `redacted_thinking`, but "
                    f"found `{found}`. When `thinking` is enabled, a final `assistant` message must start "
                    "with a thinking block."
                )
    return None


class _Handler(FakeHandler):
    server: FakeAnthropic
    json_headers = {"request-id": "req_01E2E"}

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        self.record(body)
        model = body.get("model", "")
        if self.path not in ("/v1/messages", "/v1/messages/count_tokens"):
            return self.send_json(404, error_body("not_found_error", f"Not found: {self.path}"))
        if model == "claude-overloaded":
            return self.send_json(529, error_body("overloaded_error", "Overloaded"))
        if model == "claude-rate-limited":
            text = "This request would exceed the rate limit for your organization of 50 requests per minute."
            return self.send_json(429, error_body("rate_limit_error", text), {"retry-after": "4"})
        if self.path == "/v1/messages/count_tokens":
            return self._count(body)
        if problem := _unsigned_tool_turn(body):
            return self.send_json(400, error_body("invalid_request_error", problem))
        if body.get("stream"):
            return self._stream(model, body)
        blocks, stop_reason, stop_sequence = reply_blocks(model, body)
        return self.send_json(200, message(model, [whole for whole, _ in blocks], stop_reason, stop_sequence))

    def _count(self, body: dict) -> None:
        refused = sorted(set(body) - COUNTED_FIELDS)
        if refused:
            return self.send_json(
                400, error_body("invalid_request_error", f"{refused[0]}: Extra inputs are not permitted")
            )
        return self.send_json(200, {"input_tokens": counted(body)})

    def _stream(self, model: str, body: dict) -> None:
        self.start_chunks("text/event-stream; charset=utf-8", {"cache-control": "no-cache"})
        for name, data in stream_events(model, body):
            self.send_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.send_chunk(b"")


class FakeAnthropic(FakeServer):
    handler = _Handler
