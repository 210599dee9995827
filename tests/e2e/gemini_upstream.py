"""A scripted Gemini upstream on a real socket, for end-to-end tests: the Gemini API's
`/v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`, Vertex AI's
`/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:...`, and an OAuth2 token
endpoint at `/token`.

The model id picks the scenario: `gemini-ok` (text), `gemini-tools` (a function call with a thought
signature), `gemini-quota` (429 RESOURCE_EXHAUSTED with a RetryInfo delay), `gemini-weather` and
`gemini-coder` (the scripted conversations of `tests.e2e.claude_code_session`, each answer the turn for the
number of functionResponse parts sent; calls carry the thought signature). A model named as an image model
(`gemini-2.5-flash-image`) answers a line of text and a PNG as `inlineData`, its image tokens billed.
"""

from __future__ import annotations

import json

from adapters.llm.mock.script import PIXEL_PNG
from tests.e2e.claude_code_session import SCRIPTS, scripted_turn
from tests.e2e.fake_server import FakeHandler, FakeServer

SIGNATURE = (
    "CikBcsjafFK168IbtVtoxVV0Tsn8O+eU45rzJahzwuKGmMbdMdfpmNpgBwplAXLI2nyA/pIFcnZw"
    "Fm+7WFmLyMd8R4DXwsjqaeAAfCKo5G1xIkbAlJp8Vew="
)
USAGE = {"promptTokenCount": 9, "candidatesTokenCount": 3, "totalTokenCount": 12}
ACCESS_TOKEN = "ya29.e2e-token"
PICTURE = [{"text": "A lighthouse at dusk."}, {"inlineData": {"mimeType": "image/png", "data": PIXEL_PNG}}]
PICTURE_USAGE = {"promptTokenCount": 6, "candidatesTokenCount": 1296, "totalTokenCount": 1302}


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


class _Handler(FakeHandler):
    server: GeminiUpstream
    json_type = "application/json; charset=UTF-8"

    def do_POST(self) -> None:
        raw = self.read_body()
        if self.path == "/token":
            self.server.token_requests.append(raw.decode())
            return self.send_json(
                200, {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
            )
        body = json.loads(raw)
        self.record(body)
        model, _, method = self.path.rsplit("/", 1)[-1].partition(":")
        if model == "gemini-quota":
            return self.send_json(429, QUOTA)
        if model.removeprefix("gemini-") in SCRIPTS:
            return self._scripted(model.removeprefix("gemini-"), body, method)
        if method.startswith("streamGenerateContent"):
            return self._stream(model)
        if model == "gemini-tools":
            return self.send_json(200, reply([CALL], "STOP", USAGE))
        if "-image" in model:
            return self.send_json(200, reply(PICTURE, "STOP", PICTURE_USAGE))
        return self.send_json(200, reply([{"text": "Hello from Gemini!"}], "STOP", USAGE))

    def _stream(self, model: str) -> None:
        if model == "gemini-tools":
            events = [reply([CALL], "STOP", USAGE)]
        else:
            words = ["Hello", " from", " Gemini", "!"]
            events = [reply([{"text": word}], None, USAGE) for word in words[:-1]]
            events.append(reply([{"text": words[-1]}], "STOP", USAGE))
        self.start_chunks("text/event-stream")
        for event in events:
            self.send_chunk(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
        self.send_chunk(b"")

    def _scripted(self, script: str, body: dict, method: str) -> None:
        answered = sum("functionResponse" in part for c in body["contents"] for part in c.get("parts", []))
        turn = scripted_turn(script, answered)
        parts: list[dict] = [{"text": turn["text"]}] if turn.get("text") else []
        if call := turn.get("tool_use"):
            function = {"name": call["name"], "args": call["input"]}
            parts.append({"functionCall": function, "thoughtSignature": SIGNATURE})
        if not method.startswith("streamGenerateContent"):
            return self.send_json(200, reply(parts, "STOP", USAGE))
        # Text streams word by word; a function call arrives whole, in the last event.
        words = [f" {word}" if i else word for i, word in enumerate(turn.get("text", "").split(" ")) if word]
        events = [reply([{"text": word}], None, USAGE) for word in words]
        events.append(reply([p for p in parts if "functionCall" in p], "STOP", USAGE))
        self.start_chunks("text/event-stream")
        for event in events:
            self.send_chunk(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
        self.send_chunk(b"")


class GeminiUpstream(FakeServer):
    handler = _Handler

    def __init__(self) -> None:
        super().__init__()
        self.token_requests: list[str] = []
