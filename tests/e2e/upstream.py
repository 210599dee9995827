"""A scripted OpenAI-compatible upstream on a real socket, for end-to-end tests.

The upstream model id picks the scenario: `ok`, `tools`, `rate-limited`, `too-long`, `bad-request` (a
plain 400 invalid_request_error), `broken`, `drop` (closes the connection without answering),
`slow-stream` (one chunk every 50 ms, recording when the gateway hangs up), `stream-error` (two words, then
an error event mid-stream), `weather` and `coder` (the scripted conversations of
`tests.e2e.claude_code_session`: each answer is the turn for the number of tool messages sent), `echo` (the
last user message's text said back; streamed 4 characters a chunk, so that a word straddles chunks); any
other id answers as `ok` does. Each recorded request notes when it arrived (`received_at`, monotonic seconds).
"""

from __future__ import annotations

import json
import time

from tests.e2e.claude_code_session import SCRIPTS, scripted_turn
from tests.e2e.fake_server import FakeHandler, FakeServer


def completion(model: str, message: dict, finish_reason: str = "stop") -> dict:
    return {
        "id": "chatcmpl-e2e",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "system_fingerprint": "fp_e2e",
    }


def chunk(model: str, delta: dict, finish_reason: str | None = None) -> dict:
    return {
        "id": "chatcmpl-e2e",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "system_fingerprint": "fp_e2e",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def usage_chunk(model: str) -> dict:
    body = chunk(model, {})
    body["choices"] = []
    body["usage"] = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    return body


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


TOOL_CALL = {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": ""}}


class _Handler(FakeHandler):
    server: FakeUpstream

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        self.record(body, received_at=time.monotonic())
        model = body.get("model", "")
        if self.path.endswith("/embeddings"):
            return self._embeddings(body)
        if model == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if model == "rate-limited":
            limited = error_body("Rate limit reached", "requests", "rate_limit_exceeded")
            return self.send_json(429, limited, {"retry-after": "3"})
        if model == "too-long":
            message = "This model's maximum context length is 8192 tokens."
            return self.send_json(
                400, error_body(message, "invalid_request_error", "context_length_exceeded", "messages")
            )
        if model == "bad-request":
            message = "'temperature' must be at most 2."
            return self.send_json(
                400, error_body(message, "invalid_request_error", "invalid_value", "temperature")
            )
        if model == "broken":
            return self.send_json(500, error_body("The server had an error", "server_error", None))
        if model in SCRIPTS:
            return self._scripted(model, body)
        if model == "stream-error":
            return self._broken_stream(model)
        if model == "echo":
            return self._echo(model, body)
        if body.get("stream"):
            return self._stream(model, body)
        if model == "tools":
            call = {**TOOL_CALL, "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            message = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
            return self.send_json(200, completion(model, message, "tool_calls"))
        return self.send_json(
            200, completion(model, {"role": "assistant", "content": "Hello from upstream!"})
        )

    def _stream(self, model: str, body: dict) -> None:
        self.start_chunks("text/event-stream")
        if model == "tools":
            events = [
                chunk(
                    model, {"role": "assistant", "content": None, "tool_calls": [{"index": 0, **TOOL_CALL}]}
                ),
                chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
                chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": 'ty":"Paris"}'}}]}),
                chunk(model, {}, "tool_calls"),
            ]
        else:
            words = ["Hello", " from", " upstream", "!"] * (50 if model == "slow-stream" else 1)
            events = [chunk(model, {"role": "assistant", "content": ""})]
            events += [chunk(model, {"content": word}) for word in words]
            events.append(chunk(model, {}, "stop"))
        events.append(usage_chunk(model))
        try:
            for event in events:
                self.send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
                if model == "slow-stream":
                    time.sleep(0.05)
            self.send_chunk(b"data: [DONE]\n\n")
            self.send_chunk(b"")
        except OSError:
            self.server.hangups.append(time.monotonic())
            self.close_connection = True

    def _scripted(self, model: str, body: dict) -> None:
        turn = scripted_turn(model, sum(m.get("role") == "tool" for m in body.get("messages", [])))
        call = turn.get("tool_use")
        finish = "tool_calls" if call else "stop"
        arguments = json.dumps(call["input"]) if call else ""
        if not body.get("stream"):
            message: dict = {"role": "assistant", "content": turn.get("text"), "refusal": None}
            if call:
                function = {"name": call["name"], "arguments": arguments}
                message["tool_calls"] = [{"id": _call_id(call), "type": "function", "function": function}]
            return self.send_json(200, completion(model, message, finish))
        events = [chunk(model, {"role": "assistant", "content": ""})]
        events += [chunk(model, {"content": word}) for word in _pieces(turn.get("text", ""))]
        if call:
            start = {"index": 0, "id": _call_id(call), "type": "function",
                     "function": {"name": call["name"], "arguments": ""}}  # fmt: skip
            events.append(chunk(model, {"tool_calls": [start]}))
            events += [
                chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                for piece in _pieces(arguments)
            ]
        events += [chunk(model, {}, finish), usage_chunk(model)]
        self.start_chunks("text/event-stream")
        for event in events:
            self.send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.send_chunk(b"data: [DONE]\n\n")
        self.send_chunk(b"")

    def _echo(self, model: str, body: dict) -> None:
        said = next((m.get("content") for m in reversed(body["messages"]) if m.get("role") == "user"), "")
        if isinstance(said, list):
            said = "".join(part.get("text", "") for part in said if isinstance(part, dict))
        if not body.get("stream"):
            return self.send_json(200, completion(model, {"role": "assistant", "content": said}))
        events = [chunk(model, {"role": "assistant", "content": ""})]
        events += [chunk(model, {"content": said[i : i + 4]}) for i in range(0, len(said), 4)]
        events += [chunk(model, {}, "stop"), usage_chunk(model)]
        self.start_chunks("text/event-stream")
        for event in events:
            self.send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.send_chunk(b"data: [DONE]\n\n")
        self.send_chunk(b"")

    def _broken_stream(self, model: str) -> None:
        self.start_chunks("text/event-stream")
        for delta in ({"role": "assistant", "content": ""}, {"content": "Hello"}, {"content": " from"}):
            self.send_chunk(b"data: " + json.dumps(chunk(model, delta)).encode() + b"\n\n")
        failure = error_body("The server had an error while processing your request.", "server_error", None)
        self.send_chunk(b"data: " + json.dumps(failure).encode() + b"\n\n")
        self.send_chunk(b"")

    def _embeddings(self, body: dict) -> None:
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.25, -0.5, 1.0]} for i in range(len(inputs))
        ]
        if body.get("encoding_format") == "base64":
            import base64
            import struct

            packed = base64.b64encode(struct.pack("<3f", 0.25, -0.5, 1.0)).decode()
            data = [{**item, "embedding": packed} for item in data]
        usage = {"prompt_tokens": 4, "total_tokens": 4}
        self.send_json(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})


def _call_id(call: dict) -> str:
    # The scripts hold Anthropic-style ids (toolu_...); OpenAI writes call_...
    return call["id"].replace("toolu_", "call_")


def _pieces(text: str, count: int = 3) -> list[str]:
    """`text` cut in `count` pieces, as a model streams it (none for an empty text)."""
    size = -(-len(text) // count)
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


class FakeUpstream(FakeServer):
    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self.hangups: list[float] = []

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    def received(self, model: str) -> list[dict]:
        """The requests recorded so far for the upstream model `model`, oldest first."""
        return [r for r in self.requests if isinstance(r["body"], dict) and r["body"].get("model") == model]
