"""A scripted Ollama server (native API) on a real socket, for end-to-end tests.

`/api/chat` answers as Ollama does: one JSON object with `stream: false`, otherwise NDJSON lines (chunked,
application/x-ndjson) ending with a `done: true` line that carries done_reason and the counts. The model
name picks the scenario: `ok` (text), `tools` (a tool call), `missing` (404, model not found),
`too-long` (400, context length). `/api/embed` returns one vector per input.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREATED_AT = "2025-07-07T20:22:19.184789Z"
WORDS = ["Hello", " from", " Ollama", "!"]
TOOL_CALL = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}


def line(model: str, message: dict, **rest: object) -> dict:
    return {"model": model, "created_at": CREATED_AT, "message": {"role": "assistant", **message}, **rest}


def done(model: str, message: dict | None = None) -> dict:
    counts = {"total_duration": 182242375, "load_duration": 41295167, "prompt_eval_count": 9,
              "prompt_eval_duration": 24573166, "eval_count": 4, "eval_duration": 115959084}  # fmt: skip
    return line(model, message or {"content": ""}, done_reason="stop", done=True, **counts)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeOllama

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append({"path": self.path, "headers": headers, "body": body})
        model = body.get("model", "")
        if self.path == "/api/embed":
            vectors = [[0.25, -0.5, 1.0] for _ in body["input"]]
            return self._json(200, {"model": model, "embeddings": vectors, "prompt_eval_count": 4})
        if self.path != "/api/chat":
            return self._json(404, {"error": "404 page not found"})
        if model == "missing":
            return self._json(404, {"error": f'model "{model}" not found, try pulling it first'})
        if model == "too-long":
            return self._json(400, {"error": "the input length exceeds the context length"})
        if body.get("stream", True):
            return self._stream(model)
        if model == "tools":
            return self._json(200, done(model, {"content": "", "tool_calls": [TOOL_CALL]}))
        return self._json(200, done(model, {"content": "".join(WORDS)}))

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/x-ndjson")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        if model == "tools":
            lines = [line(model, {"content": "", "tool_calls": [TOOL_CALL]}, done=False), done(model)]
        else:
            lines = [line(model, {"content": word}, done=False) for word in WORDS] + [done(model)]
        for item in lines:
            data = json.dumps(item).encode() + b"\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class FakeOllama(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
