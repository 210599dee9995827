"""Pass-through routes through the HTTP edge, against a fake upstream on httpx's MockTransport: where a
call goes, which key travels, what the ledger records."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from structlog.testing import capture_logs

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.config.loader import load_config
from adapters.http.app import create_app
from adapters.http.controllers.passthrough import RelayedResponse
from adapters.journal.memory_journal import InMemorySpendJournal
from adapters.llm.bedrock.framing import AwsEventFraming
from adapters.llm.passthrough_relay import HttpxPassThrough
from adapters.llm.passthrough_signers import BedrockSigner, VertexSigner
from adapters.persistence.memory import InMemoryStore
from application.access import Gatekeeper
from application.identity_cache import IdentityCache
from application.management import Management
from application.metering import Metering
from application.passthrough import PassThroughCall, PassThroughCalls, Relayed
from application.passthrough_usage import UsageTap, header_usage, model_of, stated_cost
from application.pricing import Pricing
from application.spend import SpendRecorder
from bootstrap.http import _SERVICES
from bootstrap.passthrough import report_open_routes
from domain.access import MASTER
from domain.deployments import Credentials, Deployment, Secret
from domain.errors import BadRequestError, ConfigurationError
from domain.passthrough import CustomRoute, upstream_url
from domain.pricing import ModelPrices
from domain.spend import SpendRecord
from tests.contract.harnesses.bedrock import frame
from tests.fakes import FakeClock, FakeTokenCounter

FIXTURES = Path(__file__).parents[1] / "contract" / "fixtures"
MASTER_KEY = "sk-master-test"
ANTHROPIC_KEY = "sk-ant-upstream"
SSE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":'
    b'{"input_tokens":10,"output_tokens":1}}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
    b'{"type":"text_delta","text":"Hi"}}\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":7}}\n\n',
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
)


class Recorder:
    def __init__(self) -> None:
        self.records: list[SpendRecord] = []

    def call_ended(self, record: SpendRecord) -> None:
        self.records.append(record)

    async def close(self) -> None:
        return None


class TrackedBody(httpx.AsyncByteStream):
    """A reply body that remembers being closed, read or not."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Upstream:
    """What the fake upstream saw."""

    seen: list[httpx.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    replies: list[TrackedBody] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        self.bodies.append(await request.aread())
        if request.url.path.endswith("/cookies"):
            self.replies.append(TrackedBody(b'{"ok":', b"true}"))
            cookies = [("set-cookie", "a=1; Path=/"), ("set-cookie", "b=2; Path=/")]
            return httpx.Response(200, headers=[*cookies, ("x-a", "1")], stream=self.replies[-1])
        if request.url.host == "oauth2.googleapis.com":
            return httpx.Response(200, content=(FIXTURES / "gemini/token.json").read_bytes())
        if request.url.path.endswith("/converse-stream"):
            kind = "application/vnd.amazon.eventstream"
            return httpx.Response(200, headers={"content-type": kind}, content=AWS_EVENTS)
        if request.url.path.endswith("/priced"):
            return httpx.Response(200, json={"done": True}, headers={"x-switchyard-response-cost": "0.25"})
        if fixture := _FIXTURE_REPLIES.get(request.url.path.rpartition("/")[2]):
            kind = "text/event-stream" if fixture.endswith(".sse") else "application/json"
            return httpx.Response(
                200, headers={"content-type": kind}, content=(FIXTURES / fixture).read_bytes()
            )
        if request.url.path.endswith("/v1/messages") and b'"stream":true' in self.bodies[-1]:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_stream())
        if request.url.path.endswith("/v1/messages"):
            reply = {"id": "m", "usage": {"input_tokens": 100, "output_tokens": 20}}
            return httpx.Response(200, json=reply, headers={"x-upstream": "yes"})
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, json={"usage": {"prompt_tokens": 3, "completion_tokens": 4}})
        return httpx.Response(404, json={"error": "no such path"})


_FIXTURE_REPLIES = {
    "gemini-2.5-flash:generateContent": "gemini/generate_content_thinking.json",
    "gemini-2.5-flash:streamGenerateContent": "gemini/stream_thinking.sse",
    "chat": "cohere/chat_stream.sse",
    "responses": "responses/response_reasoning_tool_call.json",
    "converse": "bedrock/converse_reasoning_cached.json",
}
AWS_EVENTS = b"\x00\x00\x00\x1f\x00\x00\x00\x00\x8b\xa3\x00\x01binary event stream bytes"


async def _stream() -> AsyncIterator[bytes]:
    for event in SSE:
        await asyncio.sleep(0)
        yield event


@dataclass
class World:
    upstream: Upstream
    recorder: Recorder
    management: Management
    environ: dict[str, str]
    calls: PassThroughCalls

    async def key(self, **fields: object) -> str:
        return (await self.management.keys.generate(MASTER, dict(fields))).secret


def _world(
    deployments: list[Deployment],
    environ: dict[str, str],
    routes: tuple[CustomRoute, ...] = (),
    signed: bool = False,
) -> tuple[World, object]:
    clock = FakeClock()
    store = InMemoryStore()
    upstream = Upstream()
    recorder = Recorder()
    identities = IdentityCache(uow=store.unit_of_work, clock=clock)
    gatekeeper = Gatekeeper(
        identities=identities, limiter=InMemoryRateLimiter(), clock=clock, master_key=MASTER_KEY
    )
    metering = Metering(
        pricing=Pricing(catalog=None),
        counter=FakeTokenCounter(),
        recorder=SpendRecorder(journal=InMemorySpendJournal()),
        clock=clock,
        observers=[recorder],
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle))
    calls = PassThroughCalls(
        relay=HttpxPassThrough(client),
        gatekeeper=gatekeeper,
        metering=metering,
        deployments=lambda: deployments,
        environ=environ,
        clock=clock,
        custom_routes=routes,
        signers=(VertexSigner(client), BedrockSigner(environ)) if signed else (),
    )
    # The other routes' services are never called here.
    unused = {name: Provide(lambda: None, sync_to_thread=False) for name in (*_SERVICES, "inference")}
    app = create_app(
        dependencies={**unused, "passthrough": Provide(lambda: calls, use_cache=True, sync_to_thread=False)},
        gatekeeper=lambda: gatekeeper,
        max_body_bytes=100_000,
        passthrough_routes=routes,
    )
    management = Management.build(uow=store.unit_of_work, clock=clock, on_change=identities.invalidate)
    return World(upstream, recorder, management, environ, calls), app


CLAUDE = Deployment(
    id="claude-pt",
    model_name="claude",
    provider="anthropic",
    upstream_model="claude-sonnet-4",
    api_base="https://anthropic.internal",
    credentials=Credentials(api_key=Secret(ANTHROPIC_KEY)),
    prices=ModelPrices(input=Decimal("0.001"), output=Decimal("0.002")),
    use_in_pass_through=True,
)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[World, AsyncTestClient]]:
    world, app = _world([CLAUDE], {"OPENAI_API_KEY": "sk-openai-env"})
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        yield world, client


def test_a_version_segment_the_api_base_ends_with_is_not_doubled() -> None:
    assert upstream_url("https://api.openai.com/v1", "/v1/chat/completions") == (
        "https://api.openai.com/v1/chat/completions"
    )
    assert upstream_url("https://api.anthropic.com/", "/v1/messages", "beta=true") == (
        "https://api.anthropic.com/v1/messages?beta=true"
    )
    assert upstream_url("https://h/v1beta", "/v1/models") == "https://h/v1beta/v1/models"


def test_the_model_comes_from_the_body_or_a_gemini_path() -> None:
    assert model_of("/v1/messages", b'{"model": "claude-x", "messages": []}') == "claude-x"
    assert model_of("/v1beta/models/gemini-2.0-flash:generateContent", b"{}") == "gemini-2.0-flash"
    assert model_of("/v1/models", b"") is None


def test_stream_usage_is_read_from_the_final_events_however_they_are_cut() -> None:
    tap = UsageTap("text/event-stream")
    data = b"".join(SSE)
    for start in range(0, len(data), 7):
        tap.feed(data[start : start + 7])
    usage = tap.usage()
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (10, 7)


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("reads", ["whole", "events"])
def test_stream_usage_is_read_from_a_read_of_many_events_or_of_one(line_end: bytes, reads: str) -> None:
    tap = UsageTap("text/event-stream")
    events = [event.replace(b"\n", line_end) for event in SSE]
    for read in [b"".join(events)] if reads == "whole" else events:
        tap.feed(read)
    usage = tap.usage()
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (10, 7)


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer {key}"},
        {"x-api-key": "{key}"},
        {"x-goog-api-key": "{key}"},
        {"api-key": "{key}"},
        {"x-switchyard-api-key": "{key}", "authorization": "Bearer not-a-key"},
    ],
)
async def test_each_key_header_is_accepted_and_never_sent_upstream(
    gateway: tuple[World, AsyncTestClient], headers: dict[str, str]
) -> None:
    world, client = gateway
    key = await world.key()
    sent = {name: value.format(key=key) for name, value in headers.items()}
    body = {"model": "claude-sonnet-4", "max_tokens": 5, "messages": []}
    reply = await client.post(
        "/anthropic/v1/messages",
        json=body,
        headers={**sent, "anthropic-version": "2023-06-01"},
        params={"beta": "true"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-upstream"] == "yes"
    seen = world.upstream.seen[-1]
    assert str(seen.url) == "https://anthropic.internal/v1/messages?beta=true"
    assert seen.headers["x-api-key"] == ANTHROPIC_KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert json.loads(world.upstream.bodies[-1]) == body
    for name in ("authorization", "x-goog-api-key", "api-key", "x-switchyard-api-key"):
        assert name not in seen.headers
    assert key not in str(seen.headers.raw) and key not in str(seen.url)


async def test_a_gemini_query_key_is_taken_and_the_env_credential_sent_instead() -> None:
    world, app = _world([], {"GEMINI_API_KEY": "gm-env", "GEMINI_API_BASE": "https://gemini.internal"})
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        key = await world.key()
        reply = await client.post(
            f"/gemini/v1beta/models/gemini-2.0-flash:generateContent?alt=sse&key={key}", json={}
        )
    assert reply.status_code == 404  # the fake upstream's own answer, relayed
    seen = world.upstream.seen[-1]
    assert str(seen.url) == "https://gemini.internal/v1beta/models/gemini-2.0-flash:generateContent?alt=sse"
    assert seen.headers["x-goog-api-key"] == "gm-env"
    assert key not in str(seen.headers.raw)
    assert world.recorder.records[-1].model_group == "gemini-2.0-flash"


async def test_the_provider_key_variable_and_public_endpoint_serve_without_a_deployment(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    key = await world.key()
    body = {"model": "gpt-4o-mini", "messages": []}
    reply = await client.post(
        "/openai/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
    )
    assert reply.status_code == 200
    seen = world.upstream.seen[-1]
    assert str(seen.url) == "https://api.openai.com/v1/chat/completions"
    assert seen.headers["authorization"] == "Bearer sk-openai-env"
    record = world.recorder.records[-1]
    assert record.call_type == "passthrough.openai"
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (3, 4)


async def test_without_a_credential_the_call_is_refused_naming_the_variable(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    key = await world.key()
    reply = await client.post("/cohere/v2/chat", json={"model": "command-r"}, headers={"x-api-key": key})
    assert reply.status_code == 401
    assert "COHERE_API_KEY" in reply.json()["error"]["message"]
    assert world.upstream.seen == []


async def test_a_call_without_a_key_is_refused(gateway: tuple[World, AsyncTestClient]) -> None:
    world, client = gateway
    reply = await client.post("/anthropic/v1/messages", json={"model": "claude-sonnet-4"})
    assert reply.status_code == 401
    assert world.upstream.seen == []


async def test_a_key_limited_to_other_routes_or_models_is_refused(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    body = {"model": "claude-sonnet-4", "messages": []}
    routes_only = await world.key(allowed_routes=["/openai/*"])
    reply = await client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": routes_only})
    assert reply.status_code == 403
    allowed = await client.post(
        "/anthropic/v1/messages",
        json=body,
        headers={"x-api-key": await world.key(allowed_routes=["/anthropic/*"])},
    )
    assert allowed.status_code == 200
    other_model = await world.key(models=["gpt-4o"])
    refused = await client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": other_model})
    assert refused.status_code == 403
    assert "claude-sonnet-4" in refused.json()["error"]["message"]
    assert len(world.upstream.seen) == 1


async def test_a_keys_or_teams_passthrough_routes_limit_which_routes_it_may_relay_to(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    body = {"model": "claude-sonnet-4", "messages": []}
    anthropic_only = await world.key(allowed_passthrough_routes=["/anthropic/v1/messages"])
    assert (
        await client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": anthropic_only})
    ).is_success
    refused = await client.post("/openai/v1/chat/completions", json={}, headers={"x-api-key": anthropic_only})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "passthrough_route_not_allowed"
    # As LiteLLM keeps them: in the key's metadata, a prefix covering what lies below it.
    in_metadata = await world.key(metadata={"allowed_passthrough_routes": ["/openai"]})
    assert (
        await client.post("/openai/v1/chat/completions", json={}, headers={"x-api-key": in_metadata})
    ).is_success
    refused = await client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": in_metadata})
    assert refused.status_code == 403
    team = await world.management.teams.new(MASTER, {"allowed_passthrough_routes": ["/openai/*"]})
    in_team = await world.key(team_id=team.team_id)
    refused = await client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": in_team})
    assert refused.status_code == 403 and "team" in refused.json()["error"]["message"]
    assert len(world.upstream.seen) == 2


async def test_passthrough_routes_are_kept_in_metadata_and_an_empty_list_lifts_them() -> None:
    world, _ = _world([CLAUDE], {})
    key = (await world.management.keys.generate(MASTER, {"allowed_passthrough_routes": ["/bria"],
                                                         "metadata": {"owner": "ml"}})).key  # fmt: skip
    assert key.metadata == {"owner": "ml", "allowed_passthrough_routes": ["/bria"]}
    lifted = await world.management.keys.update(MASTER, key.token, {"allowed_passthrough_routes": []})
    assert lifted.metadata == {"owner": "ml"}
    with pytest.raises(BadRequestError, match="allowed_passthrough_routes"):
        await world.management.keys.update(MASTER, key.token, {"allowed_passthrough_routes": ["bria"]})


async def test_a_streamed_reply_is_relayed_byte_for_byte_and_priced_from_its_final_events(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    key = await world.key(key_alias="pt")
    body = {"model": "claude-sonnet-4", "max_tokens": 5, "stream": True, "messages": []}
    async with client.stream(
        "POST", "/anthropic/v1/messages", content=json.dumps(body, separators=(",", ":")),
        headers={"x-api-key": key, "content-type": "application/json"},
    ) as reply:  # fmt: skip
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        received = b"".join([chunk async for chunk in reply.aiter_bytes()])
    assert received == b"".join(SSE)
    record = world.recorder.records[-1]
    assert record.call_type == "passthrough.anthropic"
    assert record.caller.key_alias == "pt"
    assert record.deployment_id == "claude-pt"
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (10, 7)
    assert record.cost == Decimal("0.001") * 10 + Decimal("0.002") * 7
    assert reply.headers["x-switchyard-call-id"] == record.request_id


async def test_a_model_without_a_price_is_recorded_with_cost_null(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    reply = await client.post(
        "/anthropic/v1/messages",
        json={"model": "claude-unknown", "messages": []},
        headers={"x-api-key": MASTER_KEY},
    )
    assert reply.status_code == 200
    record = world.recorder.records[-1]
    assert record.usage.prompt_tokens == 100 and record.cost is None


async def test_repeated_reply_headers_are_relayed_as_they_came(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    reply = await client.get("/openai/v1/cookies", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert reply.status_code == 200 and reply.json() == {"ok": True}
    assert reply.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert reply.headers["x-a"] == "1" and reply.headers["x-switchyard-call-id"]
    assert world.upstream.replies[-1].closed


async def test_a_head_reply_whose_body_is_never_read_is_still_closed_and_recorded(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, client = gateway
    reply = await client.head("/openai/v1/cookies", headers={"authorization": f"Bearer {MASTER_KEY}"})
    assert reply.status_code == 200 and reply.content == b""
    assert world.upstream.seen[-1].method == "HEAD"
    assert world.upstream.replies[-1].closed
    assert world.recorder.records[-1].status_code == 200


async def test_a_reply_ended_before_it_was_read_closes_the_upstream_and_records_a_499_once(
    gateway: tuple[World, AsyncTestClient],
) -> None:
    world, _ = gateway
    call = PassThroughCall("openai", "GET", "/v1/cookies", "", (), b"")
    relayed = await world.calls.call(MASTER, call, call_id="gone")
    await relayed.end(False)
    await relayed.end(False)
    assert world.upstream.replies[-1].closed
    assert [(r.request_id, r.status_code) for r in world.recorder.records] == [("gone", 499)]


async def test_a_client_gone_before_the_reply_started_still_ends_the_call() -> None:
    ended: list[bool] = []
    started: list[bool] = []

    async def body() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"never"

    async def end(whole: bool) -> None:
        ended.append(whole)

    async def receive() -> dict[str, object]:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: object) -> None:
        raise OSError("the client is gone")

    asgi = RelayedResponse(Relayed(200, (), body(), end), "c").to_asgi_response()
    with pytest.raises(OSError):
        await asgi({}, receive, send)  # type: ignore[arg-type]
    assert ended == [False] and started == []


@pytest.mark.parametrize(
    ("fixture", "counts"),
    [
        ("gemini/generate_content_thinking.json", (9, 122, 0, 112)),
        ("gemini/stream_thinking.sse", (9, 122, 0, 112)),
        ("cohere/chat.json", (19, 10, 0, 0)),
        ("cohere/chat_stream.sse", (19, 10, 0, 0)),
        ("responses/response_reasoning_tool_call.json", (311, 214, 128, 192)),
        ("responses/stream.sse", (36, 87, 0, 0)),
    ],
)
def test_usage_is_read_from_each_providers_own_reply(fixture: str, counts: tuple[int, ...]) -> None:
    tap = UsageTap("text/event-stream" if fixture.endswith(".sse") else "application/json")
    data = (FIXTURES / fixture).read_bytes()
    for start in range(0, len(data), 50):
        tap.feed(data[start : start + 50])
    usage = tap.usage()
    assert usage is not None
    assert (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
        usage.reasoning_tokens,
    ) == counts


def test_a_gemini_stream_answered_as_one_json_array_is_read_to_its_last_totals() -> None:
    lines = (FIXTURES / "gemini/stream_thinking.sse").read_text().splitlines()
    events = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    tap = UsageTap("application/json; charset=utf-8")
    tap.feed(json.dumps(events).encode())
    usage = tap.usage()
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (9, 122)


def _aws_event(kind: str, payload: dict) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(payload).encode())


def _invoked_chunk(event: dict) -> bytes:
    """An InvokeModelWithResponseStream `chunk`: the model's own event, base64 in `bytes`."""
    return _aws_event("chunk", {"bytes": base64.b64encode(json.dumps(event).encode()).decode()})


def _read_framed(data: bytes, piece: int = 7) -> tuple[int, int, int] | None:
    tap = UsageTap(AwsEventFraming.content_type, AwsEventFraming())
    for start in range(0, len(data), piece):
        tap.feed(data[start : start + piece])
    usage = tap.usage()
    return None if usage is None else (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens)


def test_a_converse_streams_usage_is_read_from_its_metadata_event_however_the_frames_are_cut() -> None:
    data = b"".join(
        [
            _aws_event("messageStart", {"role": "assistant"}),
            _aws_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
            _aws_event("messageStop", {"stopReason": "end_turn"}),
            _aws_event("metadata", {"usage": {"inputTokens": 9, "outputTokens": 3, "totalTokens": 14,
                                              "cacheReadInputTokens": 2}, "metrics": {"latencyMs": 321}}),
        ]
    )  # fmt: skip

    assert _read_framed(data) == (11, 3, 2)


def test_an_invoked_claude_streams_usage_is_read_from_its_wrapped_anthropic_events() -> None:
    data = b"".join(
        [
            _invoked_chunk({"type": "message_start", "message": {"usage": {"input_tokens": 12,
                            "cache_read_input_tokens": 4, "output_tokens": 1}}}),
            _invoked_chunk({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hi"}}),
            _invoked_chunk({"type": "message_delta", "usage": {"output_tokens": 5}}),
            _invoked_chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 12, "outputTokenCount": 5, "invocationLatency": 410}}),
        ]
    )  # fmt: skip

    assert _read_framed(data, piece=5) == (16, 5, 4)


def test_any_invoked_models_stream_is_read_from_bedrocks_invocation_metrics() -> None:
    data = _invoked_chunk({"generation": "Hi", "prompt_token_count": 8}) + _invoked_chunk(
        {"generation": "", "stop_reason": "stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": 8, "outputTokenCount": 20, "invocationLatency": 900, "firstByteLatency": 80}}
    )  # fmt: skip

    assert _read_framed(data) == (8, 20, 0)


def test_a_stream_that_breaks_its_framing_is_left_unread() -> None:
    whole = _aws_event("metadata", {"usage": {"inputTokens": 9, "outputTokens": 3}})
    broken = whole[:-1] + bytes([whole[-1] ^ 0xFF])  # its CRC no longer holds

    assert _read_framed(broken + whole) is None


def test_invoke_models_counts_are_read_from_its_reply_headers() -> None:
    headers = (
        ("X-Amzn-Bedrock-Input-Token-Count", "30"),
        ("X-Amzn-Bedrock-Output-Token-Count", "7"),
        ("X-Amzn-Bedrock-Cache-Read-Input-Token-Count", "10"),
    )
    usage = header_usage(headers)

    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (
        40,
        7,
        10,
    )
    assert header_usage((("x-amzn-bedrock-input-token-count", "30"),)) is None


def test_the_stated_cost_header_is_read_when_it_is_a_plain_amount() -> None:
    assert stated_cost((("X-Switchyard-Response-Cost", "0.0125"),)) == Decimal("0.0125")
    for text in ("", "free", "-1", "NaN", "inf"):
        assert stated_cost((("x-switchyard-response-cost", text),)) is None


GEMINI = Deployment(
    id="gemini-pt",
    model_name="flash",
    provider="gemini",
    upstream_model="gemini-2.5-flash",
    credentials=Credentials(api_key=Secret("gm-key")),
    prices=ModelPrices(input=Decimal("0.001"), output=Decimal("0.002")),
    use_in_pass_through=True,
)


@pytest.mark.parametrize(
    ("route", "body", "expected"),
    [
        (
            "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            {"contents": []},
            ("gemini-2.5-flash", 9, 122, Decimal("0.001") * 9 + Decimal("0.002") * 122),
        ),
        ("/cohere/v2/chat", {"model": "command-r", "stream": True}, ("command-r", 19, 10, None)),
        ("/openai/v1/responses", {"model": "o4-mini", "input": "hi"}, ("o4-mini", 311, 214, None)),
        ("/openai/v1/priced", {}, ("openai", 0, 0, Decimal("0.25"))),
    ],
)
async def test_each_format_is_recorded_with_its_usage_or_the_cost_the_upstream_states(
    route: str, body: dict[str, object], expected: tuple[object, ...]
) -> None:
    environ = {"COHERE_API_KEY": "co-key", "OPENAI_API_KEY": "sk-openai-env"}
    world, app = _world([GEMINI], environ)
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        reply = await client.post(route, json=body, headers={"x-api-key": MASTER_KEY})
    assert reply.status_code == 200
    record = world.recorder.records[-1]
    usage = record.usage
    assert (record.model_group, usage.prompt_tokens, usage.completion_tokens, record.cost) == expected


BRIA = CustomRoute("/bria", "https://bria.internal/v1", (("api_token", "bria-secret"),), forward_headers=True)
OPEN = CustomRoute("/status-page", "https://status.internal/", (("x-token", "t"),), auth=False)


async def test_an_operators_route_relays_below_its_target_with_its_headers_and_never_the_key() -> None:
    world, app = _world([], {}, (BRIA, OPEN))
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        key = await world.key(key_alias="bria-user")
        refused = await client.post("/bria/text-to-image", json={})
        assert refused.status_code == 401 and world.upstream.seen == []
        reply = await client.post(
            "/bria/text-to-image?size=2",
            json={"prompt": "a fox"},
            headers={"authorization": f"Bearer {key}", "x-trace": "abc", "api_token": "caller's own"},
        )
    assert reply.status_code == 404  # the fake upstream's own answer, relayed
    seen = world.upstream.seen[-1]
    assert str(seen.url) == "https://bria.internal/v1/text-to-image?size=2"
    assert seen.headers["x-trace"] == "abc"  # forward_headers
    assert seen.headers.get_list("api_token") == ["bria-secret"]
    assert "authorization" not in seen.headers and key not in str(seen.headers.raw)
    record = world.recorder.records[-1]
    assert (record.call_type, record.model_group, record.caller.key_alias) == (
        "passthrough.custom",
        "/bria",
        "bria-user",
    )


async def test_a_route_without_auth_needs_no_key_and_forwards_only_its_own_headers() -> None:
    world, app = _world([], {}, (BRIA, OPEN))
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        reply = await client.get("/status-page", headers={"x-trace": "abc"})
        other = await client.get("/status-pages")
    assert reply.status_code == 404 and other.status_code == 404
    assert len(world.upstream.seen) == 1
    seen = world.upstream.seen[-1]
    assert str(seen.url) == "https://status.internal/"
    assert seen.headers["x-token"] == "t" and "x-trace" not in seen.headers
    assert world.recorder.records[-1].caller.key_alias is None


def test_a_route_without_auth_is_reported_at_startup() -> None:
    with capture_logs() as logs:
        report_open_routes((BRIA, OPEN))
    assert [(log["log_level"], log["path"]) for log in logs] == [("warning", "/status-page")]


def test_pass_through_endpoints_load_in_litellms_shape_with_variables_in_header_values() -> None:
    config = load_config(
        {
            "general_settings": {
                "pass_through_endpoints": [
                    {
                        "path": "/v1/cohere-rerank",
                        "target": "https://api.cohere.com/v1/rerank",
                        "headers": {
                            "Authorization": "bearer os.environ/COHERE_API_KEY",
                            "x-whole": "os.environ/WHOLE",
                            "x-unset": "os.environ/UNSET_VARIABLE",
                            "accept": "application/json",
                        },
                        "forward_headers": True,
                    },
                    {"path": "bria/", "target": "https://engine.bria.internal", "auth": False},
                ]
            }
        },
        {"COHERE_API_KEY": "co-secret", "WHOLE": "w"},
    )
    cohere, bria = config.passthrough_routes
    assert cohere == CustomRoute(
        "/v1/cohere-rerank",
        "https://api.cohere.com/v1/rerank",
        (("Authorization", "bearer co-secret"), ("x-whole", "w"), ("accept", "application/json")),
        forward_headers=True,
    )
    assert (bria.path, bria.auth, bria.headers) == ("/bria", False, ())
    assert any("UNSET_VARIABLE" in warning for warning in config.warnings)
    assert cohere.url("") == "https://api.cohere.com/v1/rerank"
    assert bria.url("/v1/x", "a=1") == "https://engine.bria.internal/v1/x?a=1"


@pytest.mark.parametrize(
    ("entry", "named"),
    [({"path": "/", "target": "https://x"}, "path"), ({"path": "/x", "target": "ftp://x"}, "target")],
)
def test_a_pass_through_endpoint_without_a_path_or_an_http_target_is_refused(
    entry: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_config({"general_settings": {"pass_through_endpoints": [entry]}}, {})
    assert raised.value.path == f"general_settings.pass_through_endpoints[0].{named}"


VERTEX = Deployment(
    id="vertex-pt",
    model_name="vertex-flash",
    provider="vertex_ai",
    upstream_model="gemini-2.5-flash",
    credentials=Credentials(
        extra={
            "vertex_credentials": {
                "type": "authorized_user",
                "client_id": "cid",
                "client_secret": "cs",
                "refresh_token": "rt",
            }
        }
    ),
    use_in_pass_through=True,
)
BEDROCK = Deployment(
    id="bedrock-pt",
    model_name="claude-bedrock",
    provider="bedrock",
    upstream_model="us.anthropic.claude-sonnet-4-v1:0",
    credentials=Credentials(
        extra={
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": "secret",
            "aws_region_name": "us-west-2",
        }
    ),
    use_in_pass_through=True,
)


async def test_vertex_calls_go_to_the_paths_location_with_the_deployments_oauth_token() -> None:
    world, app = _world([VERTEX], {}, signed=True)
    path = "/v1/projects/p1/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        key = await world.key()
        reply = await client.post(f"/vertex_ai{path}", json={}, headers={"authorization": f"Bearer {key}"})
    assert reply.status_code == 200
    token_call, seen = world.upstream.seen[-2:]
    assert token_call.url.host == "oauth2.googleapis.com"
    assert str(seen.url) == f"https://europe-west4-aiplatform.googleapis.com{path}"
    assert seen.headers["authorization"].startswith("Bearer ya29.")
    assert key not in str(seen.headers.raw)
    record = world.recorder.records[-1]
    assert (record.call_type, record.model_group, record.deployment_id) == (
        "passthrough.vertex_ai",
        "gemini-2.5-flash",
        "vertex-pt",
    )
    assert (record.usage.prompt_tokens, record.usage.completion_tokens) == (9, 122)


async def test_bedrock_calls_are_sigv4_signed_for_the_regions_runtime_and_relayed_as_bytes() -> None:
    world, app = _world([BEDROCK], {}, signed=True)
    model = "us.anthropic.claude-sonnet-4-v1%3A0"
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        key = await world.key()
        sent = {"x-api-key": key}
        reply = await client.post(f"/bedrock/model/{model}/converse", json={"messages": []}, headers=sent)
        streamed = await client.post(f"/bedrock/model/{model}/converse-stream", json={}, headers=sent)
    assert reply.status_code == 200 and streamed.status_code == 200
    assert streamed.content == AWS_EVENTS
    assert streamed.headers["content-type"] == "application/vnd.amazon.eventstream"
    seen = world.upstream.seen[-2]
    assert seen.url.host == "bedrock-runtime.us-west-2.amazonaws.com"
    assert seen.url.raw_path == f"/model/{model}/converse".encode()
    authorization = seen.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-west-2/bedrock/aws4_request" in authorization
    assert "SignedHeaders=content-type;host;x-amz-date" in authorization
    assert key not in str(seen.headers.raw)
    record = world.recorder.records[-2]
    assert record.model_group == "us.anthropic.claude-sonnet-4-v1:0"
    assert record.usage.prompt_tokens > 0


async def test_a_signed_provider_without_a_pass_through_deployment_is_refused() -> None:
    world, app = _world([], {}, signed=True)
    async with AsyncTestClient(app) as client:  # type: ignore[arg-type]
        reply = await client.post("/bedrock/model/m/converse", json={}, headers={"x-api-key": MASTER_KEY})
    assert reply.status_code == 401 and "use_in_pass_through" in reply.json()["error"]["message"]
    assert world.upstream.seen == []


def test_the_framing_wired_for_aws_event_streams_is_bedrocks() -> None:
    from bootstrap.passthrough import AWS_EVENT_STREAM, _aws_event_framing

    assert AwsEventFraming.content_type == AWS_EVENT_STREAM
    assert isinstance(_aws_event_framing(), AwsEventFraming)
