"""Pass-through routes through the HTTP edge, against a fake upstream on httpx's MockTransport: where a
call goes, which key travels, what the ledger records."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest
from litestar.di import Provide
from litestar.testing import AsyncTestClient

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.http.app import create_app
from adapters.journal.memory_journal import InMemorySpendJournal
from adapters.llm.passthrough_relay import HttpxPassThrough
from adapters.persistence.memory import InMemoryStore
from application.access import Gatekeeper
from application.identity_cache import IdentityCache
from application.management import Management
from application.metering import Metering
from application.passthrough import PassThroughCalls
from application.passthrough_usage import UsageTap, model_of
from application.pricing import Pricing
from application.spend import SpendRecorder
from bootstrap import _SERVICES
from domain.access import MASTER
from domain.deployments import Credentials, Deployment, Secret
from domain.passthrough import upstream_url
from domain.pricing import ModelPrices
from domain.spend import SpendRecord
from tests.fakes import FakeClock, FakeTokenCounter

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


@dataclass
class Upstream:
    """What the fake upstream saw."""

    seen: list[httpx.Request] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        self.bodies.append(await request.aread())
        if request.url.path.endswith("/v1/messages") and b'"stream":true' in self.bodies[-1]:
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=_stream())
        if request.url.path.endswith("/v1/messages"):
            reply = {"id": "m", "usage": {"input_tokens": 100, "output_tokens": 20}}
            return httpx.Response(200, json=reply, headers={"x-upstream": "yes"})
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, json={"usage": {"prompt_tokens": 3, "completion_tokens": 4}})
        return httpx.Response(404, json={"error": "no such path"})


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

    async def key(self, **fields: object) -> str:
        return (await self.management.keys.generate(MASTER, dict(fields))).secret


def _world(deployments: list[Deployment], environ: dict[str, str]) -> tuple[World, object]:
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
    calls = PassThroughCalls(
        relay=HttpxPassThrough(httpx.AsyncClient(transport=httpx.MockTransport(upstream.handle))),
        gatekeeper=gatekeeper,
        metering=metering,
        deployments=lambda: deployments,
        environ=environ,
        clock=clock,
    )
    # The other routes' services are never called here.
    unused = {name: Provide(lambda: None, sync_to_thread=False) for name in (*_SERVICES, "inference")}
    app = create_app(
        dependencies={**unused, "passthrough": Provide(lambda: calls, use_cache=True, sync_to_thread=False)},
        gatekeeper=lambda: gatekeeper,
        max_body_bytes=100_000,
    )
    management = Management.build(uow=store.unit_of_work, clock=clock, on_change=identities.invalidate)
    return World(upstream, recorder, management, environ), app


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
