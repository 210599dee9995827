"""Claude on Vertex AI and on Bedrock's InvokeModel, scripted on real sockets for end-to-end tests: the
scenarios of anthropic_upstream.py (the model's name picks one) in each host's envelope.

FakeVertexClaude serves `POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict`
(and `:streamRawPredict`, Anthropic's SSE), the partner models' OpenAI-compatible
`.../endpoints/openapi/chat/completions` ("Hello from Llama!", whole or streamed), and `POST /token` (an
OAuth token endpoint for `authorized_user` credentials whose token_uri points here). It refuses, as
Vertex does, a call without the token it handed out (401, Google's shape) and a Claude body that names
the model or lacks an `anthropic_version` (400, Anthropic's shape). The scenario is the model without
its `@version`.

FakeBedrockClaude serves `POST /model/{modelId}/invoke` and `/invoke-with-response-stream`, checking the
SigV4 signature as bedrock_upstream.py does; a body with `model` or `stream`, or without an
`anthropic_version`, is a 400 ValidationException. The stream is an AWS event stream, one `chunk`
message per Anthropic event carrying `{"bytes": base64(event JSON)}` (message_stop with Bedrock's
invocation metrics, as Bedrock adds them). The scenario is the id's `claude-...` up to its `-v1:0`.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import unquote

from tests.e2e import anthropic_upstream as claude
from tests.e2e import bedrock_upstream
from tests.e2e import upstream as openai_fake
from tests.e2e.fake_server import FakeHandler, FakeServer

ACCESS_TOKEN = "ya29.e2e-vertex-claude"
LLAMA_TEXT = ["Hello", " from", " Llama", "!"]
_VERTEX_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/anthropic/models/"
    r"(?P<model>[^/:]+):(?P<method>rawPredict|streamRawPredict)$"
)
_BEDROCK_SCENARIO = re.compile(r"(claude-[a-z-]+?)(-v\d+(:\d+)?)?$")
METRICS = {
    "inputTokenCount": 12,
    "outputTokenCount": 5,
    "invocationLatency": 321,
    "firstByteLatency": 123,
}


def sse(events: list[tuple[str, dict]]) -> bytes:
    """The SSE bytes of these events, as the fakes write them."""
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def bedrock_events(model: str, body: dict) -> list[tuple[str, dict]]:
    """The Anthropic events of the scenario, as Bedrock sends them: message_stop with its metrics."""
    events = claude.stream_events(model, body)
    name, stop = events[-1]
    return [*events[:-1], (name, {**stop, "amazon-bedrock-invocationMetrics": METRICS})]


class _VertexHandler(FakeHandler):
    server: FakeVertexClaude

    def do_POST(self) -> None:
        raw = self.read_body()
        if self.path == "/token":
            self.record(raw.decode())
            return self.send_json(200, {"access_token": ACCESS_TOKEN, "expires_in": 3599})
        body = json.loads(raw)
        found = _VERTEX_PATH.match(self.path)
        sent = self.record(body, **(found.groupdict() if found else {}))
        if sent["headers"].get("authorization") != f"Bearer {ACCESS_TOKEN}":
            error = {"code": 401, "message": "Request had invalid authentication credentials.",
                     "status": "UNAUTHENTICATED"}  # fmt: skip
            return self.send_json(401, {"error": error})
        if self.path.endswith("/endpoints/openapi/chat/completions"):
            return self._openai_chat(body)
        if found is None:
            return self.send_json(404, claude.error_body("not_found_error", f"Not found: {self.path}"))
        if "model" in body or not isinstance(body.get("anthropic_version"), str):
            problem = (
                "model: Extra inputs are not permitted" if "model" in body else "anthropic_version: required"
            )
            return self.send_json(400, claude.error_body("invalid_request_error", problem))
        model = found["model"].split("@")[0]
        if found["method"] == "streamRawPredict":
            self.start_chunks("text/event-stream; charset=utf-8")
            for name, data in claude.stream_events(model, body):
                self.send_chunk(sse([(name, data)]))
            return self.send_chunk(b"")
        blocks, stop_reason, stop_sequence = claude.reply_blocks(model, body)
        content = [whole for whole, _ in blocks]
        return self.send_json(200, claude.message(model, content, stop_reason, stop_sequence))

    def _openai_chat(self, body: dict) -> None:
        model = body["model"]
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(LLAMA_TEXT)}
            return self.send_json(200, openai_fake.completion(model, message))
        self.start_chunks("text/event-stream")
        deltas = [{"role": "assistant", "content": ""}, *({"content": word} for word in LLAMA_TEXT)]
        for delta in deltas:
            self.send_chunk(f"data: {json.dumps(openai_fake.chunk(model, delta))}\n\n".encode())
        self.send_chunk(
            f"data: {json.dumps(openai_fake.chunk(model, {}, 'stop'))}\n\ndata: [DONE]\n\n".encode()
        )
        return self.send_chunk(b"")


class FakeVertexClaude(FakeServer):
    handler = _VertexHandler

    def credentials(self) -> str:
        """gcloud's user credentials, their token endpoint this server's."""
        return json.dumps(
            {
                "type": "authorized_user",
                "client_id": "e2e.apps.googleusercontent.com",
                "client_secret": "e2e-secret",
                "refresh_token": "1//e2e-refresh",
                "token_uri": f"{self.root}/token",
            }
        )


class _BedrockHandler(FakeHandler):
    server: FakeBedrockClaude
    json_headers = {"x-amzn-requestid": "e2e-claude-0000"}

    def do_POST(self) -> None:
        raw = self.read_body()
        _, _, encoded_model, operation = self.path.split("/", 3)
        model = unquote(encoded_model)
        body = json.loads(raw)
        sent = self.record(body, model=model, operation=operation)
        if not bedrock_upstream.signature_holds("POST", self.path, sent["headers"], raw):
            message = "The request signature we calculated does not match the signature you provided."
            return self._error(403, "InvalidSignatureException", message)
        if "model" in body or "stream" in body or not isinstance(body.get("anthropic_version"), str):
            return self._error(400, "ValidationException", "Malformed input request, please reformat.")
        found = _BEDROCK_SCENARIO.search(model)
        scenario = found.group(1) if found else model
        if operation == "invoke-with-response-stream":
            self.start_chunks("application/vnd.amazon.eventstream", {"x-amzn-requestid": "e2e-claude-1111"})
            for _, data in bedrock_events(scenario, body):
                chunk = {"bytes": base64.b64encode(json.dumps(data).encode()).decode(), "p": "abcdef"}
                self.send_chunk(bedrock_upstream.frame(_CHUNK, json.dumps(chunk).encode()))
            return self.send_chunk(b"")
        blocks, stop_reason, stop_sequence = claude.reply_blocks(scenario, body)
        content = [whole for whole, _ in blocks]
        return self.send_json(200, claude.message(scenario, content, stop_reason, stop_sequence))

    def _error(self, status: int, error_type: str, message: str) -> None:
        type_header = f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        self.send_json(status, {"message": message}, {"x-amzn-errortype": type_header})


_CHUNK = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}


class FakeBedrockClaude(FakeServer):
    handler = _BedrockHandler
