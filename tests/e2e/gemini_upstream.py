"""A scripted Gemini upstream on a real socket, for end-to-end tests: the Gemini API's
`/v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`, Vertex AI's
`/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:...`, and an OAuth2 token
endpoint at `/token`.

The model id picks the scenario: `gemini-ok` (text), `gemini-tools` (a function call with a thought
signature), `gemini-quota` (429 RESOURCE_EXHAUSTED with a RetryInfo delay).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SIGNATURE = (
    "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbdMdfpmNpgBwplAXLI2nyA/pIFcnZw"
    "Fm+7WFmLyMd8R4DXwsjqaeAAfCKo5G1xIkbAlJp8Vew="
)
USAGE = {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12}
ACCESS_TOKEN = "ya29.e2e-token"


def reply(parts: list[dict], finish: str | None, usage: dict | None = None) -> dict:
    candidate: dict = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body: dict = {
        "candidates": [candidate],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "e2e-response-1",
    }
    if usage:
        body["usageMetadata"] = usage
    return body


CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": SIGNATURE}
QUOTA = {
    "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}],
    }
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: GeminiUpstream

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["content-length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        if self.path == "/token":
            self.server.token_requests.append(raw.decode())
            return self._json(200, {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"})
        body = json.loads(raw)
        self.server.requests.append({"path": self.path, "headers": headers, "body": body})
        model, _, method = self.path.rsplit("/", 1)[-1].partition(":")
        if model == "gemini-quota":
            return self._json(429, QUOTA)
        if method.startswith("streamGenerateContent"):
            return self._stream(model)
        if model == "gemini-tools":
            return self._json(200, reply([CALL], "STOP", USAGE))
        return self._json(200, reply([{"text": "Hello from Gemini!"}], "STOP", USAGE))

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=UTF-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str) -> None:
        if model == "gemini-tools":
            events = [reply([CALL], "STOP", USAGE)]
        else:
            words = ["Hello", " from", " Gemini", "!"]
            events = [reply([{"text": word}], None, USAGE) for word in words[:-1]]
            events.append(reply([{"text": words[-1]}], "STOP", USAGE))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            self._send_chunk(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
        self._send_chunk(b"")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


class GeminiUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.token_requests: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> GeminiUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()
