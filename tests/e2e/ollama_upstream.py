"""A scripted Ollama server (native API) on a real socket, for end-to-end tests.

`/api/chat` answers as Ollama does: one JSON object with `stream: false`, otherwise NDJSON lines (chunked,
application/x-ndjson) ending with a `done: true` line that carries done_reason and the counts. The model
name picks the scenario: `ok` (text), `tools` (a tool call), `missing` (404, model not found),
`too-long` (400, context length). `/api/embed` returns one vector per input.
"""

from __future__ import annotations

import json

from tests.e2e.fake_server import FakeHandler, FakeServer

CREATED_AT = "2025-07-07T20:22:19.184789Z"
WORDS = ["Hello", " from", " Ollama", "!"]
TOOL_CALL = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}


def line(model: str, message: dict, **rest: object) -> dict:
    return {"model": model, "created_at": CREATED_AT, "message": {"role": "assistant", **message}, **rest}


def done(model: str, message: dict | None = None) -> dict:
    counts = {"total_duration": 182242375, "load_duration": 41295167, "prompt_eval_count": 9,
              "prompt_eval_duration": 24573166, "eval_count": 4, "eval_duration": 115959084}  # fmt: skip
    return line(model, message or {"content": ""}, done_reason="stop", done=True, **counts)


class _Handler(FakeHandler):
    server: FakeOllama
    json_type = "application/json; charset=utf-8"

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        self.record(body)
        model = body.get("model", "")
        if self.path == "/api/embed":
            vectors = [[0.25, -0.5, 1.0] for _ in body["input"]]
            return self.send_json(200, {"model": model, "embeddings": vectors, "prompt_eval_count": 4})
        if self.path != "/api/chat":
            return self.send_json(404, {"error": "404 page not found"})
        if model == "missing":
            return self.send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
        if model == "too-long":
            return self.send_json(400, {"error": "the input length exceeds the context length"})
        if body.get("stream", True):
            return self._stream(model)
        if model == "tools":
            return self.send_json(200, done(model, {"content": "", "tool_calls": [TOOL_CALL]}))
        return self.send_json(200, done(model, {"content": "".join(WORDS)}))

    def _stream(self, model: str) -> None:
        self.start_chunks("application/x-ndjson")
        if model == "tools":
            lines = [line(model, {"content": "", "tool_calls": [TOOL_CALL]}, done=False), done(model)]
        else:
            lines = [line(model, {"content": word}, done=False) for word in WORDS] + [done(model)]
        for item in lines:
            self.send_chunk(json.dumps(item).encode() + b"\n")
        self.send_chunk(b"")


class FakeOllama(FakeServer):
    handler = _Handler
