"""A scripted Amazon SageMaker Runtime on a real socket, for end-to-end tests.

`POST /endpoints/{name}/invocations` answers the container's JSON; `/invocations-response-stream` an AWS
event stream of PayloadPart events whose bytes are the container's SSE, each event cut in two parts (as
SageMaker relays whatever the container wrote). Like AWS, it checks each request's SigV4 signature for
the `sagemaker` service (tests/e2e/bedrock_upstream.py's independent check) and answers 403
InvalidSignatureException when it does not hold. A body with `messages` is answered in OpenAI's chat
format, any other in TGI's generate format. The endpoint name picks the scenario: `...-ok` (text),
`...-tools` (a tool call, chat format), `tgi-too-long` (424 ModelError wrapping TGI's 422), `tgi-broken`
(a ModelStreamError after two tokens); an endpoint named `missing` does not exist (400 ValidationError).
"""

from __future__ import annotations

import json

from tests.e2e.bedrock_upstream import frame, signature_holds
from tests.e2e.fake_server import FakeHandler, FakeServer
from tests.e2e.upstream import TOOL_CALL, chunk, completion, usage_chunk

WORDS = ["Hello", " from", " SageMaker", "!"]
PROMPT_TOKENS = 7
TOO_LONG = (
    "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens"
)
PAYLOAD_PART = {
    ":event-type": "PayloadPart",
    ":content-type": "application/octet-stream",
    ":message-type": "event",
}


def payload_parts(event: bytes) -> list[bytes]:
    """One SSE event as two PayloadPart messages, cut in the middle."""
    middle = len(event) // 2
    return [frame(PAYLOAD_PART, event[:middle]), frame(PAYLOAD_PART, event[middle:])]


def tgi_events(endpoint: str) -> list[dict]:
    tokens = [{"index": i, "token": {"id": 100 + i, "text": word, "logprob": -0.1, "special": False},
               "generated_text": None, "details": None} for i, word in enumerate(WORDS)]  # fmt: skip
    if endpoint == "tgi-broken":
        return tokens[:2]
    details = {"finish_reason": "eos_token", "generated_tokens": len(WORDS) + 1, "seed": None}
    last = {"index": len(WORDS), "token": {"id": 2, "text": "</s>", "logprob": -0.01, "special": True},
            "generated_text": "".join(WORDS), "details": details}  # fmt: skip
    return [*tokens, last]


def chat_events(endpoint: str) -> list[dict]:
    events = [chunk(endpoint, {"role": "assistant", "content": ""})]
    if endpoint.endswith("-tools"):
        events.append(chunk(endpoint, {"tool_calls": [{"index": 0, **TOOL_CALL}]}))
        events += [chunk(endpoint, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                   for piece in ('{"ci', 'ty": "Par', 'is"}')]  # fmt: skip
        return [*events, chunk(endpoint, {}, "tool_calls"), usage_chunk(endpoint)]
    events += [chunk(endpoint, {"content": word}) for word in WORDS]
    return [*events, chunk(endpoint, {}, "stop"), usage_chunk(endpoint)]


def generation(parameters: dict) -> dict:
    """TGI's reply: the text, with the details (and the prompt's tokens) when the parameters ask."""
    generated: dict = {"generated_text": "".join(WORDS)}
    if parameters.get("details"):
        details = {"finish_reason": "eos_token", "generated_tokens": len(WORDS) + 1, "seed": None}
        if parameters.get("decoder_input_details"):
            details["prefill"] = [{"id": i, "text": f"t{i}", "logprob": None} for i in range(PROMPT_TOKENS)]
        generated["details"] = details
    return generated


class _Handler(FakeHandler):
    server: FakeSageMaker
    json_headers = {"x-amzn-requestid": "e2e-sagemaker-0001"}

    def do_POST(self) -> None:
        raw = self.read_body()
        _, _, endpoint, operation = self.path.split("/", 3)
        body = json.loads(raw)
        sent = self.record(body, endpoint=endpoint, operation=operation)
        authorization = sent["headers"].get("authorization", "")
        if "/sagemaker/aws4_request" not in authorization or not signature_holds(
            "POST", self.path, sent["headers"], raw
        ):
            message = "The request signature we calculated does not match the signature you provided."
            return self._error(403, "InvalidSignatureException", {"message": message})
        if endpoint == "missing":
            return self._error(
                400, "ValidationError", {"message": "Endpoint missing of account 123456789012 not found."}
            )
        if endpoint == "tgi-too-long":
            original = json.dumps({"error": TOO_LONG, "error_type": "validation"})
            message = f'Received client error (422) from primary with message "{original}".'
            return self._error(
                424,
                "ModelError",
                {"message": message, "OriginalStatusCode": 422, "OriginalMessage": original},
            )
        chat = "messages" in body
        if operation == "invocations-response-stream":
            return self._stream(endpoint, chat)
        if chat and endpoint.endswith("-tools"):
            call = {**TOOL_CALL, "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            return self.send_json(
                200,
                completion(
                    endpoint, {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
                ),
            )
        if chat:
            return self.send_json(200, completion(endpoint, {"role": "assistant", "content": "".join(WORDS)}))
        return self.send_json(200, [generation(body.get("parameters", {}))])

    def _error(self, status: int, error_type: str, body: dict) -> None:
        self.send_json(
            status,
            body,
            {"x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/com.amazon.sagemaker/"},
        )

    def _stream(self, endpoint: str, chat: bool) -> None:
        self.start_chunks(
            "application/vnd.amazon.eventstream", {"x-amzn-sagemaker-content-type": "text/event-stream"}
        )
        events = chat_events(endpoint) if chat else tgi_events(endpoint)
        for event in events:
            for part in payload_parts(b"data:" + json.dumps(event).encode() + b"\n\n"):
                self.send_chunk(part)
        if endpoint == "tgi-broken":
            headers = {
                ":exception-type": "ModelStreamError",
                ":content-type": "application/json",
                ":message-type": "exception",
            }
            self.send_chunk(
                frame(headers, b'{"Message":"The model stopped streaming.","ErrorCode":"StreamBroken"}')
            )
        self.send_chunk(b"")


class FakeSageMaker(FakeServer):
    handler = _Handler
