"""The real server's pass-through routes, each driven by its provider's own SDK with a virtual key
(`anthropic`, `google-genai`, `boto3`'s bedrock-runtime, `cohere`), in front of a fake of the provider's
API: the fake sees the deployment's credential and never the virtual key, the ledger the priced call, and
a stream comes through byte for byte."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import boto3
import cohere
import httpx
import pytest
from google import genai

from tests.e2e import bedrock_upstream
from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.bedrock_upstream import FakeBedrock
from tests.e2e.conftest import MASTER_KEY, ledger_record, running_gateway
from tests.e2e.fake_server import FakeHandler, FakeServer
from tests.e2e.gemini_upstream import GeminiUpstream

pytestmark = pytest.mark.e2e

UPSTREAM_KEY = "sk-ant-passthrough"
BODY = {"model": "claude-ok", "max_tokens": 50, "messages": [{"role": "user", "content": "Hello"}]}
GEMINI_KEY = "AIzaSyE2E-passthrough-key"
COHERE_KEY = "co-e2e-passthrough-key"
BEDROCK_MODEL = "anthropic.claude-e2e-ok-v1:0"
PRICES = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}
COHERE_WORDS = ["Hello", " from", " Cohere", "!"]
COHERE_USAGE = {
    "billed_units": {"input_tokens": 7, "output_tokens": 4},
    "tokens": {"input_tokens": 70, "output_tokens": 4},
}


class _CohereHandler(FakeHandler):
    """Cohere's v2 chat: one JSON reply, or with `stream: true` its SSE events, usage in message-end."""

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        self.record(body)
        if not body.get("stream"):
            message = {"role": "assistant", "content": [{"type": "text", "text": "".join(COHERE_WORDS)}]}
            reply = {"id": "e2e-cohere-1", "finish_reason": "COMPLETE", "message": message}
            return self.send_json(200, {**reply, "usage": COHERE_USAGE})
        self.start_chunks("text/event-stream")
        for event in cohere_events():
            self.send_chunk(event)
        self.send_chunk(b"")


def cohere_events() -> list[bytes]:
    start = {"type": "message-start", "id": "e2e-cohere-2", "delta": {"message": {"role": "assistant"}}}
    deltas = [
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": word}}}}
        for word in COHERE_WORDS
    ]
    end = {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": COHERE_USAGE}}
    events = [
        start,
        {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "text", "text": ""}}},
        },
    ]
    events += [*deltas, {"type": "content-end", "index": 0}, end]
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


class FakeCohere(FakeServer):
    handler = _CohereHandler


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiUpstream]:
    with GeminiUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def bedrock() -> Iterator[FakeBedrock]:
    with FakeBedrock() as server:
        yield server


@pytest.fixture(scope="module")
def cohere_upstream() -> Iterator[FakeCohere]:
    with FakeCohere() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeAnthropic,
    gemini: GeminiUpstream,
    bedrock: FakeBedrock,
    cohere_upstream: FakeCohere,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    def passing_through(name: str, model: str, **params: str) -> dict:
        params = {"model": model, "use_in_pass_through": True, **params}
        return {"model_name": name, "litellm_params": params, "model_info": PRICES}

    config = {
        "model_list": [
            passing_through("gemini", "gemini/gemini-ok", api_base=gemini.base_url, api_key=GEMINI_KEY),
            passing_through(
                "command", "cohere/command-e2e", api_base=cohere_upstream.base_url, api_key=COHERE_KEY
            ),
            passing_through(
                "bedrock",
                f"bedrock/{BEDROCK_MODEL}",
                api_base=bedrock.base_url,
                aws_access_key_id=bedrock_upstream.ACCESS_KEY,
                aws_secret_access_key=bedrock_upstream.SECRET_KEY,
                aws_region_name="us-east-1",
            ),
            {
                "model_name": "claude",
                "litellm_params": {
                    "model": "anthropic/claude-ok",
                    "api_base": upstream.base_url,
                    "api_key": UPSTREAM_KEY,
                    "use_in_pass_through": True,
                },
                "model_info": {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002},
            },
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-passthrough"))) as url:
        yield url


@pytest.fixture(scope="module")
def virtual_key(gateway: str) -> str:
    made = httpx.post(
        f"{gateway}/key/generate",
        json={"key_alias": "passthrough-e2e"},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    made.raise_for_status()
    return made.json()["key"]


def test_the_sdk_reaches_anthropic_with_the_injected_key_and_the_call_is_priced(
    gateway: str, upstream: FakeAnthropic, virtual_key: str
) -> None:
    client = anthropic.Anthropic(base_url=f"{gateway}/anthropic", api_key=virtual_key, max_retries=0)

    raw = client.messages.with_raw_response.create(**BODY)  # type: ignore[call-overload]
    reply = raw.parse()

    assert "".join(block.text for block in reply.content) == "Hello from Claude!"
    sent = upstream.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == UPSTREAM_KEY
    assert sent["headers"]["anthropic-version"]  # the SDK's own, kept
    assert all(virtual_key not in value for value in sent["headers"].values())
    record = ledger_record(gateway, raw.headers["x-switchyard-call-id"])
    assert record["call_type"] == "passthrough.anthropic"
    assert record["prompt_tokens"] == 12 and record["completion_tokens"] == 5
    assert record["spend"] == pytest.approx(12 * 0.001 + 5 * 0.002)


def test_a_stream_comes_through_byte_for_byte(
    gateway: str, upstream: FakeAnthropic, virtual_key: str
) -> None:
    client = anthropic.Anthropic(base_url=f"{gateway}/anthropic", api_key=virtual_key, max_retries=0)
    with client.messages.stream(**BODY) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
    assert text == "Hello from Claude!"
    assert all(virtual_key not in value for value in upstream.requests[-1]["headers"].values())

    def streamed(url: str, key: str) -> tuple[bytes, httpx.Headers]:
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        with httpx.stream("POST", url, json={**BODY, "stream": True}, headers=headers) as reply:
            return b"".join(reply.iter_bytes()), reply.headers

    through, headers = streamed(f"{gateway}/anthropic/v1/messages", virtual_key)
    direct, _ = streamed(f"{upstream.base_url}/v1/messages", UPSTREAM_KEY)
    assert through == direct
    record = ledger_record(gateway, headers["x-switchyard-call-id"])
    assert record["completion_tokens"] == 5 and record["spend"] > 0


def _no_virtual_key(sent: dict, virtual_key: str) -> None:
    assert all(virtual_key not in value for value in sent["headers"].values())
    assert virtual_key not in json.dumps(sent["body"]) and virtual_key not in sent["path"]


def _streamed(url: str, body: dict, headers: dict[str, str]) -> tuple[bytes, httpx.Headers]:
    with httpx.stream("POST", url, json=body, headers=headers) as reply:
        assert reply.status_code == 200
        return b"".join(reply.iter_bytes()), reply.headers


def test_google_genai_reaches_gemini_with_the_injected_key_and_the_call_is_priced(
    gateway: str, gemini: GeminiUpstream, virtual_key: str
) -> None:
    client = genai.Client(api_key=virtual_key, http_options={"base_url": f"{gateway}/gemini"})

    reply = client.models.generate_content(model="gemini-ok", contents="Hello")

    assert reply.text == "Hello from Gemini!"
    sent = gemini.requests[-1]
    assert sent["path"].endswith("/models/gemini-ok:generateContent")
    assert sent["headers"]["x-goog-api-key"] == GEMINI_KEY
    _no_virtual_key(sent, virtual_key)
    call_id = reply.sdk_http_response.headers["x-switchyard-call-id"]
    record = ledger_record(gateway, call_id)
    assert record["call_type"] == "passthrough.gemini"
    assert record["prompt_tokens"] == 9 and record["completion_tokens"] == 3
    assert record["spend"] == pytest.approx(9 * 0.001 + 3 * 0.002)

    text = "".join(
        chunk.text or ""
        for chunk in client.models.generate_content_stream(model="gemini-ok", contents="Hello")
    )

    assert text == "Hello from Gemini!"
    assert gemini.requests[-1]["headers"]["x-goog-api-key"] == GEMINI_KEY
    _no_virtual_key(gemini.requests[-1], virtual_key)
    body = {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}
    path = "/v1beta/models/gemini-ok:streamGenerateContent?alt=sse"
    through, headers = _streamed(f"{gateway}/gemini{path}", body, {"x-goog-api-key": virtual_key})
    direct, _ = _streamed(f"{gemini.root}{path}", body, {"x-goog-api-key": GEMINI_KEY})
    assert through == direct
    record = ledger_record(gateway, headers["x-switchyard-call-id"])
    assert record["prompt_tokens"] == 9 and record["completion_tokens"] == 3 and record["spend"] > 0


def test_boto3_reaches_bedrock_signed_with_the_deployment_credentials_and_the_call_is_priced(
    gateway: str, bedrock: FakeBedrock, virtual_key: str
) -> None:
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=f"{gateway}/bedrock",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    replies: list[dict] = []

    def present_the_virtual_key(request, **_: object) -> None:  # type: ignore[no-untyped-def]
        request.headers["x-switchyard-api-key"] = virtual_key

    client.meta.events.register("before-send.bedrock-runtime.*", present_the_virtual_key)
    client.meta.events.register(
        "after-call.bedrock-runtime.*", lambda http_response, **_: replies.append(http_response.headers)
    )
    messages = [{"role": "user", "content": [{"text": "Hello"}]}]

    reply = client.converse(modelId=BEDROCK_MODEL, messages=messages)

    assert reply["output"]["message"]["content"][0]["text"] == "Hello from Bedrock!"
    sent = bedrock.requests[-1]
    assert sent["operation"] == "converse" and sent["model"] == BEDROCK_MODEL
    assert sent["headers"]["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={bedrock_upstream.ACCESS_KEY}/"
    )
    _no_virtual_key(sent, virtual_key)
    record = ledger_record(gateway, replies[-1]["x-switchyard-call-id"])
    assert record["call_type"] == "passthrough.bedrock"
    assert record["prompt_tokens"] == 11 and record["completion_tokens"] == 3  # 2 of the 11 cache reads
    assert record["spend"] > 0

    streamed = client.converse_stream(modelId=BEDROCK_MODEL, messages=messages)["stream"]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in streamed if "contentBlockDelta" in e)

    assert text == "Hello from Bedrock!"
    assert bedrock.requests[-1]["operation"] == "converse-stream"
    assert bedrock.requests[-1]["headers"]["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={bedrock_upstream.ACCESS_KEY}/"
    )
    _no_virtual_key(bedrock.requests[-1], virtual_key)
    url = f"{gateway}/bedrock/model/{BEDROCK_MODEL.replace(':', '%3A')}/converse-stream"
    through, headers = _streamed(url, {"messages": messages}, {"x-switchyard-api-key": virtual_key})
    assert through == b"".join(bedrock_upstream.stream_events(BEDROCK_MODEL))
    record = ledger_record(gateway, headers["x-switchyard-call-id"])
    assert record["call_type"] == "passthrough.bedrock"  # priced from the event stream's metadata event
    assert record["prompt_tokens"] == 11 and record["completion_tokens"] == 3 and record["spend"] > 0


def test_cohere_reaches_cohere_with_the_injected_key_and_the_call_is_priced(
    gateway: str, cohere_upstream: FakeCohere, virtual_key: str
) -> None:
    client = cohere.ClientV2(api_key=virtual_key, base_url=f"{gateway}/cohere")
    messages = [{"role": "user", "content": "Hello"}]

    raw = client.with_raw_response.chat(model="command-e2e", messages=messages)  # type: ignore[arg-type]

    assert raw.data.message.content[0].text == "Hello from Cohere!"
    sent = cohere_upstream.requests[-1]
    assert sent["path"] == "/v2/chat"
    assert sent["headers"]["authorization"] == f"Bearer {COHERE_KEY}"
    _no_virtual_key(sent, virtual_key)
    record = ledger_record(gateway, raw.headers["x-switchyard-call-id"])
    assert record["call_type"] == "passthrough.cohere"
    assert record["prompt_tokens"] == 7 and record["completion_tokens"] == 4
    assert record["spend"] == pytest.approx(7 * 0.001 + 4 * 0.002)

    events = client.chat_stream(model="command-e2e", messages=messages)  # type: ignore[arg-type]
    text = "".join(e.delta.message.content.text for e in events if e.type == "content-delta")

    assert text == "Hello from Cohere!"
    assert cohere_upstream.requests[-1]["headers"]["authorization"] == f"Bearer {COHERE_KEY}"
    _no_virtual_key(cohere_upstream.requests[-1], virtual_key)
    body = {"model": "command-e2e", "messages": messages, "stream": True}
    through, headers = _streamed(
        f"{gateway}/cohere/v2/chat", body, {"authorization": f"Bearer {virtual_key}"}
    )
    assert through == b"".join(cohere_events())
    record = ledger_record(gateway, headers["x-switchyard-call-id"])
    assert record["prompt_tokens"] == 7 and record["completion_tokens"] == 4 and record["spend"] > 0
