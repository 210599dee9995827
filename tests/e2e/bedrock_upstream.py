"""A scripted Amazon Bedrock runtime on a real socket, for end-to-end tests.

`POST /model/{modelId}/converse`, `/converse-stream` (the binary event stream, one message per write)
and `/invoke` (Titan embeddings). Like AWS, it checks each request's SigV4 signature, computed here
independently of the gateway's signer from the raw path it received, and answers 403
InvalidSignatureException when it does not hold. The model id picks the scenario: `...e2e-ok...` (text),
`...e2e-tools...` (a toolUse), `...e2e-throttled...` (429 ThrottlingException), `...e2e-too-long...`
(400 "Input is too long"), `...e2e-broken-stream...` (an internalServerException mid-stream).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
import zlib
from urllib.parse import quote, unquote

from tests.e2e.fake_server import FakeHandler, FakeServer

ACCESS_KEY = "AKIDE2EBEDROCK"
SECRET_KEY = "e2e/bedrock+secret"
TEXT = ["Hello", " from", " Bedrock", "!"]
TOOL_USE = {"toolUseId": "tooluse_E2EWeatherCall", "name": "get_weather"}
ARGUMENT_PIECES = ['{"ci', 'ty": "Par', 'is"}']
USAGE = {"inputTokens": 9, "outputTokens": 3, "totalTokens": 14, "cacheReadInputTokens": 2}


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(
        bytes((len(name),))
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value.encode()))
        + value.encode()
        for name, value in headers.items()
    )
    prelude = struct.pack(">II", 16 + len(encoded) + len(payload), len(encoded))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return head + struct.pack(">I", zlib.crc32(head))


def event(kind: str, payload: dict) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps({**payload, "p": "abcdefghijklmnop"}).encode())


def stream_events(model: str) -> list[bytes]:
    events = [event("messageStart", {"role": "assistant"})]
    if "e2e-tools" in model:
        events.append(event("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": TOOL_USE}}))
        events += [
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}})
            for piece in ARGUMENT_PIECES
        ]
        events.append(event("contentBlockStop", {"contentBlockIndex": 0}))
        stop = "tool_use"
    else:
        events += [
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}}) for word in TEXT
        ]
        if "e2e-broken-stream" in model:
            headers = {
                ":exception-type": "internalServerException",
                ":content-type": "application/json",
                ":message-type": "exception",
            }
            return [*events, frame(headers, b'{"message":"The system encountered an unexpected error."}')]
        events.append(event("contentBlockStop", {"contentBlockIndex": 0}))
        stop = "end_turn"
    events.append(event("messageStop", {"stopReason": stop}))
    events.append(event("metadata", {"usage": USAGE, "metrics": {"latencyMs": 321}}))
    return events


def signature_holds(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> bool:
    """AWS's own check: the request's canonical form, signed with the secret, gives its signature."""
    authorization = headers.get("authorization", "")
    try:
        fields = dict(part.strip().split("=", 1) for part in authorization.split(" ", 1)[1].split(","))
        _, day, region, service, _ = fields["Credential"].split("/")
        names = fields["SignedHeaders"].split(";")
    except (IndexError, ValueError, KeyError):
        return False
    canonical = "\n".join(
        [
            method,
            quote(raw_path, safe="/~"),
            "",
            "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{headers.get('x-amz-date')}\n{scope}\n{digest}"
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return fields["Credential"].startswith(ACCESS_KEY + "/") and hmac.compare_digest(
        expected, fields["Signature"]
    )


class _Handler(FakeHandler):
    server: FakeBedrock
    json_headers = {"x-amzn-requestid": "e2e-0000-1111"}

    def do_POST(self) -> None:
        body = self.read_body()
        _, _, encoded_model, operation = self.path.split("/", 3)
        model = unquote(encoded_model)
        sent = self.record(json.loads(body), model=model, operation=operation)
        if not signature_holds("POST", self.path, sent["headers"], body):
            message = "The request signature we calculated does not match the signature you provided."
            return self._error(403, "InvalidSignatureException", message)
        if operation == "invoke":
            text = json.loads(body)["inputText"]
            vector = [round(0.25 * (len(text) % 4), 2), -0.5, 1.0]
            return self.send_json(200, {"embedding": vector, "inputTextTokenCount": len(text.split())})
        if "e2e-throttled" in model:
            return self._error(
                429, "ThrottlingException", "Too many requests, please wait before trying again."
            )
        if "e2e-too-long" in model:
            return self._error(400, "ValidationException", "Input is too long for requested model.")
        if operation == "converse-stream":
            return self._stream(model)
        if "e2e-tools" in model:
            content = [{"toolUse": {**TOOL_USE, "input": {"city": "Paris"}}}]
            return self._reply(content, "tool_use")
        return self._reply([{"text": "".join(TEXT)}], "end_turn")

    def _reply(self, content: list[dict], stop: str) -> None:
        message = {"role": "assistant", "content": content}
        self.send_json(200, {"output": {"message": message}, "stopReason": stop, "usage": USAGE})

    def _error(self, status: int, error_type: str, message: str) -> None:
        type_header = f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        self.send_json(status, {"message": message}, {"x-amzn-errortype": type_header})

    def _stream(self, model: str) -> None:
        self.start_chunks("application/vnd.amazon.eventstream", {"x-amzn-requestid": "e2e-0000-2222"})
        for data in [*stream_events(model), b""]:
            self.send_chunk(data)


class FakeBedrock(FakeServer):
    handler = _Handler
