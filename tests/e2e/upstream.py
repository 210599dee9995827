"""A scripted OpenAI-compatible upstream on a real socket, for end-to-end tests.

The upstream model id picks the scenario: `ok`, `tools`, `rate-limited`, `too-long`, `broken`,
`drop` (closes the connection without answering), `slow-stream` (one chunk every 50 ms, recording when
the gateway hangs up).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeUpstream

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append({"path": self.path, "headers": headers, "body": body})
        model = body.get("model", "")
        if self.path.endswith("/embeddings"):
            return self._embeddings(body)
        if model == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if model == "rate-limited":
            return self._json(429, error_body("Rate limit reached", "requests", "rate_limit_exceeded"),
                              {"retry-after": "3"})  # fmt: skip
        if model == "too-long":
            message = "This model's maximum context length is 8192 tokens."
            return self._json(
                400, error_body(message, "invalid_request_error", "context_length_exceeded", "messages")
            )
        if model == "broken":
            return self._json(500, error_body("The server had an error", "server_error", None))
        if body.get("stream"):
            return self._stream(model, body)
        if model == "tools":
            call = {**TOOL_CALL, "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            message = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
            return self._json(200, completion(model, message, "tool_calls"))
        return self._json(200, completion(model, {"role": "assistant", "content": "Hello from upstream!"}))

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, body: dict) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
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
                self._send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
                if model == "slow-stream":
                    time.sleep(0.05)
            self._send_chunk(b"data: [DONE]\n\n")
            self._send_chunk(b"")
        except OSError:
            self.server.hangups.append(time.monotonic())
            self.close_connection = True

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

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
        self._json(200, {"object": "list", "data": data, "model": body["model"],
                         "usage": {"prompt_tokens": 4, "total_tokens": 4}})  # fmt: skip


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.hangups: list[float] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
