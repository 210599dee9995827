"""A scripted IBM watsonx.ai (and its IBM Cloud IAM) on a real socket, for end-to-end tests.

`POST /identity/token` answers IAM's API-key grant with a bearer token, a JWT as IAM's are (IBM's SDK
reads its `exp`). `/ml/v1/text/chat`, `/ml/v1/text/chat_stream` (SSE: `id:` / `event: message` /
`data:`, a usage-only last chunk, as the service streams) and `/ml/v1/text/embeddings` refuse any other
bearer token (401 authentication_token_expired) and a request without `version`. The model id picks the
scenario: `ibm/granite-ok` (text), `ibm/granite-tools` (a tool call), `ibm/missing` (404
model_not_supported). What IBM's SDK asks before it calls a model is answered too: the project's details
(`GET /v2/projects/<id>`) and the model specs (`GET /ml/v1/foundation_model_specs`).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

from tests.e2e.fake_server import FakeHandler, FakeServer

API_KEY = "e2e-ibm-cloud-api-key"


def _jwt_segment(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


TOKEN = ".".join(
    (
        _jwt_segment({"kid": "e2e", "alg": "RS256"}),
        _jwt_segment({"iam_id": "iam-ServiceId-e2e", "exp": 4102444800}),  # 2100: never refreshed here
        "e2e-signature",
    )
)
"""IAM's access token: a JWT naming the caller and when it expires; nobody here checks its signature."""
IAM_REPLY = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}
CHAT_MODELS = ("ibm/granite-ok", "ibm/granite-tools")
EMBEDDING_MODEL = "ibm/slate-30m-english-rtrvr"
WORDS = ["Hello", " from", " watsonx", "!"]
USAGE = {"completion_tokens": 4, "prompt_tokens": 11, "total_tokens": 15}
TOOL_CALL = {
    "id": "chatcmpl-tool-e2e",
    "type": "function",
    "function": {"name": "get_weather", "arguments": ""},
}


def error(status: int, code: str, message: str) -> dict:
    return {"errors": [{"code": code, "message": message}], "trace": "e2e-trace", "status_code": status}


def chunk(model: str, delta: dict | None, finish: str | None = None, **rest: object) -> dict:
    choices = [] if delta is None else [{"index": 0, "finish_reason": finish, "delta": delta}]
    head = {"id": "chatcmpl-e2e-wx", "object": "chat.completion.chunk", "model_id": model, "model": model}
    return {
        **head,
        "choices": choices,
        "created": 1749736055,
        "created_at": "2025-06-12T13:47:35.541Z",
        **rest,
    }


def model_specs() -> dict:
    """The models served, as `GET /ml/v1/foundation_model_specs` lists them
    (cloud.ibm.com/apidocs/watsonx-ai#list-foundation-model-specs); IBM's SDK checks a model is listed
    before it calls it."""
    available = [{"id": "available", "start_date": "2025-01-01"}]
    chat = [
        {"model_id": model, "functions": [{"id": "text_chat"}], "lifecycle": available}
        for model in CHAT_MODELS
    ]
    embedding = {"model_id": EMBEDDING_MODEL, "functions": [{"id": "embedding"}], "lifecycle": available}
    resources = [
        {"label": spec["model_id"], "provider": "IBM", "source": "IBM", **spec} for spec in [*chat, embedding]
    ]
    return {"total_count": len(resources), "limit": 200, "resources": resources}


def project(guid: str) -> dict:
    """A project with watsonx.ai as its compute, as `GET /v2/projects/<id>` of IBM's data platform answers
    (cloud.ibm.com/apidocs/data-ai-common-core#get-project); IBM's SDK reads it when told a project id."""
    compute = [{"type": "machine_learning", "guid": "e2e-wml-instance", "name": "e2e watsonx.ai"}]
    storage = {"type": "bmcos_object_storage", "guid": "e2e-cos-instance"}
    entity = {"name": "e2e project", "storage": storage, "compute": compute}
    return {"metadata": {"guid": guid, "url": f"/v2/projects/{guid}"}, "entity": entity}


class _Handler(FakeHandler):
    server: FakeWatsonx

    def do_POST(self) -> None:
        raw = self.read_body()
        url = urlsplit(self.path)
        if url.path == "/identity/token":
            form = {name: values[0] for name, values in parse_qs(raw.decode()).items()}
            self.record(form, path=url.path)
            if form.get("apikey") != API_KEY:
                return self.send_json(
                    400, {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found."}
                )
            return self.send_json(200, IAM_REPLY)
        body = json.loads(raw)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        self.record(body, path=url.path, query=query)
        if self._refused(url.path, query):
            return None
        model = body.get("model_id", "")
        if url.path == "/ml/v1/text/embeddings":
            results = [{"embedding": [0.25, -0.5, 1.0]} for _ in body["inputs"]]
            return self.send_json(200, {"model_id": model, "results": results, "input_token_count": 4})
        if model == "ibm/missing":
            return self.send_json(404, error(404, "model_not_supported", f"Model '{model}' is not supported"))
        if url.path == "/ml/v1/text/chat_stream":
            return self._stream(model)
        if model == "ibm/granite-tools":
            call = {**TOOL_CALL, "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            message = {"role": "assistant", "tool_calls": [call]}
            finish = "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": "".join(WORDS)}, "stop"
        choice = {"index": 0, "message": message, "finish_reason": finish}
        reply = {"id": "chatcmpl-e2e-wx", "model_id": model, "model": model, "created": 1749736055}
        reply |= {"choices": [choice], "usage": USAGE}
        return self.send_json(200, reply)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        self.record(None, path=url.path, query=query)
        if self._refused(url.path, query):
            return None
        if url.path == "/ml/v1/foundation_model_specs":
            return self.send_json(200, model_specs())
        if url.path.startswith("/v2/projects/"):
            return self.send_json(200, project(url.path.removeprefix("/v2/projects/")))
        return self.send_json(404, error(404, "not_found", f"No route {url.path}"))

    def _refused(self, path: str, query: dict[str, str]) -> bool:
        """Answers a request without IAM's token, or a watsonx.ai one (`/ml/...`) without `version`, with
        the service's error; True when it did."""
        if self.headers.get("authorization") != f"Bearer {TOKEN}":
            expired = "Failed to authenticate the request due to an expired token"
            self.send_json(401, error(401, "authentication_token_expired", expired))
            return True
        if path.startswith("/ml/") and "version" not in query:
            self.send_json(400, error(400, "missing_version", "Missing required query parameter 'version'"))
            return True
        return False

    def _stream(self, model: str) -> None:
        events = [chunk(model, {"role": "assistant", "content": ""})]
        if model == "ibm/granite-tools":
            events.append(chunk(model, {"tool_calls": [{"index": 0, **TOOL_CALL}]}))
            events += [chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                       for piece in ('{"ci', 'ty": "Par', 'is"}')]  # fmt: skip
            finish = "tool_calls"
        else:
            events += [chunk(model, {"content": word}) for word in WORDS]
            finish = "stop"
        events += [chunk(model, {"content": ""}, finish), chunk(model, None, usage=USAGE)]
        self.start_chunks("text/event-stream")
        for number, event in enumerate(events, 1):
            self.send_chunk(f"id: {number}\nevent: message\ndata: {json.dumps(event)}\n\n".encode())
        self.send_chunk(b"")


class FakeWatsonx(FakeServer):
    handler = _Handler

    @property
    def iam_url(self) -> str:
        return f"{self.root}/identity/token"
