"""A scripted OpenAI-format upstream on a real socket that answers as an OpenAI-compatible host under
`/v1/...` and as Azure OpenAI under `/openai/deployments/{deployment}/...?api-version=...`, for
end-to-end tests of the hosts table and the Azure adapter.

The model (for Azure, the deployment) picks the scenario: `ok`, `tools`, `filtered` (Azure's 400
content_filter error with innererror), `rate-limited` (429 with Retry-After). Azure streams open with
the `prompt_filter_results` chunk Azure sends before any choice.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from tests.e2e.fake_server import FakeHandler, FakeServer
from tests.e2e.upstream import TOOL_CALL, chunk, completion, error_body, usage_chunk

_AZURE_PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/chat/completions$")
FILTER_RESULTS = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": True, "severity": "medium"},
}
CONTENT_FILTER_ERROR = {
    "error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management "
        "policy. Please modify your prompt and retry.",
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": FILTER_RESULTS},
    }
}


class _Handler(FakeHandler):
    server: FakeCompatibleHost

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        self.record(body, path=url.path, query=query)
        azure = _AZURE_PATH.match(url.path)
        model = azure.group("deployment") if azure else body.get("model", "")
        if model == "filtered":
            return self.send_json(400, CONTENT_FILTER_ERROR)
        if model == "rate-limited":
            limited = error_body("Rate limit reached", "requests", "rate_limit_exceeded")
            return self.send_json(429, limited, {"retry-after": "2"})
        if body.get("stream"):
            return self._stream(model, azure is not None)
        if model == "tools":
            call = {**TOOL_CALL, "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
            message = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None}
            return self.send_json(200, completion(model, message, "tool_calls"))
        return self.send_json(
            200, completion(model, {"role": "assistant", "content": "Hello from the host!"})
        )

    def _stream(self, model: str, azure: bool) -> None:
        self.start_chunks("text/event-stream")
        events: list[dict] = []
        if azure:
            prompt_filter = [{"prompt_index": 0, "content_filter_results": {}}]
            events.append({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                           "prompt_filter_results": prompt_filter})  # fmt: skip
        if model == "tools":
            events += [
                chunk(
                    model, {"role": "assistant", "content": None, "tool_calls": [{"index": 0, **TOOL_CALL}]}
                ),
                chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
                chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
                chunk(model, {}, "tool_calls"),
            ]
        else:
            events.append(chunk(model, {"role": "assistant", "content": ""}))
            events += [chunk(model, {"content": word}) for word in ["Hello", " from", " the", " host!"]]
            events.append(chunk(model, {}, "stop"))
        events.append(usage_chunk(model))
        for event in events:
            self.send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.send_chunk(b"data: [DONE]\n\n")
        self.send_chunk(b"")


class FakeCompatibleHost(FakeServer):
    handler = _Handler
