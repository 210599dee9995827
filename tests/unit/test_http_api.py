"""The HTTP edge through Litestar's test client, with the use cases on fake providers."""

from __future__ import annotations

import asyncio
import base64
import random
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import orjson
import pytest
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.cache.memory_budget_reservations import InMemoryBudgetReservations
from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.http.app import create_app
from adapters.http.exchange import Inference
from adapters.journal.memory_journal import InMemorySpendJournal
from adapters.observability.metrics import PrometheusMetrics
from adapters.persistence.deferred import DeferredStore
from adapters.persistence.memory import InMemoryStore
from application.access import Gatekeeper
from application.budgets import BudgetGuard
from application.catalog import ModelCatalog
from application.completions import Completions
from application.health import DeploymentStates, HealthCheck
from application.identity_cache import IdentityCache
from application.management import Management
from application.metering import Metering
from application.models import ModelRegistry
from application.pricing import Pricing
from application.responses import Responses
from application.routing import Router
from application.spend import SpendRecorder, SpendWriter
from application.spend_reports import SpendDesk
from application.spend_totals import SpendLookup
from application.token_counting import TokenCounting
from domain.deployments import Capabilities, Credentials, Deployment, DeploymentRecord, Secret
from domain.errors import AuthenticationError, BadRequestError, ContextWindowExceededError, RateLimitError
from domain.pricing import ModelPrices
from domain.router_policy import RouterPolicy
from tests.fakes import FakeClock, FakeLLMProvider, FakeTelemetry, FakeTokenCounter, chunks_of, reply

MASTER_KEY = "sk-master-test"
UPSTREAM_KEY = "sk-upstream-secret"
CHAT = {"model": "gpt-x", "messages": [{"role": "user", "content": "Hi"}]}


def _provide(service: object) -> Provide:
    return Provide(lambda: service, use_cache=True, sync_to_thread=False)


def _app(
    provider: FakeLLMProvider,
    *,
    master_key: str | None = None,
    max_body: int = 100_000,
    more: tuple[Deployment, ...] = (),
    public_metrics: bool = False,
):
    deployments = [
        Deployment(
            id="dep-1",
            model_name="gpt-x",
            provider="openai",
            upstream_model="gpt-4o-mini",
            credentials=Credentials(api_key=Secret(UPSTREAM_KEY)),
        ),
        Deployment(
            id="dep-e",
            model_name="embedder",
            provider="openai",
            upstream_model="text-embedding-3-small",
            capabilities=Capabilities(chat=False, embeddings=True),
        ),
        *more,
    ]
    catalog = ModelCatalog(deployments=deployments, created=1700000000)
    clock = FakeClock()
    state = InMemoryRouterState()
    router = Router(state=state, policy=RouterPolicy(num_retries=0), clock=clock, rng=random.Random(1))
    store = InMemoryStore()
    pricing = Pricing(catalog=None)
    ledger = store.spend_ledger("test")
    journal = InMemorySpendJournal()
    metrics = PrometheusMetrics(groups=[d.model_name for d in deployments])
    completions = Completions(
        catalog=catalog,
        providers={d.id: provider for d in deployments},
        mock=provider,
        router=router,
        clock=clock,
        telemetry=FakeTelemetry(),
        metering=Metering(
            pricing=pricing,
            counter=FakeTokenCounter(),
            recorder=SpendRecorder(journal=journal),
            clock=clock,
            observers=[metrics],
        ),
        rng=random.Random(1),
    )
    providers = {d.id: provider for d in deployments}
    identities = IdentityCache(uow=store.unit_of_work, clock=clock)
    reservations = InMemoryBudgetReservations()
    gatekeeper = Gatekeeper(
        identities=identities,
        limiter=InMemoryRateLimiter(),
        clock=clock,
        master_key=master_key,
        access_groups=catalog.access_groups,
        budgets=BudgetGuard(
            reservations=reservations,
            ledger=ledger,
            pricing=pricing,
            catalog=catalog,
            clock=clock,
            policy=RouterPolicy(),
        ),
    )
    opened = DeferredStore(_opened(store))
    services = {
        "store": opened,
        "gatekeeper": gatekeeper,
        "inference": Inference(
            completions,
            gatekeeper,
            TokenCounting(
                catalog=catalog, providers=providers, counter=FakeTokenCounter(), policy=RouterPolicy()
            ),
            Responses(uow=store.unit_of_work, clock=clock),
        ),
        "management": Management.build(
            uow=store.unit_of_work,
            clock=clock,
            on_change=identities.invalidate,
            spend=SpendLookup(ledger=ledger, clock=clock),
        ),
        "spend": SpendDesk.build(
            ledger=ledger,
            uow=store.unit_of_work,
            clock=clock,
            reservations=reservations,
            catalog=catalog,
            pricing=pricing,
            counter=FakeTokenCounter(),
            policy=RouterPolicy(),
        ),
        "spend_writer": SpendWriter(journals=[journal], ledger=ledger),
        "metrics": metrics,
        "models": ModelRegistry(
            uow=store.unit_of_work,
            clock=clock,
            configured=deployments,
            parse=_unparsable,
            activate=catalog.replace,
        ),
        "completions": completions,
        "catalog": catalog,
        "router_state": state,
        "health_check": HealthCheck(catalog=catalog, providers=providers, mock=provider, clock=clock),
        "deployment_states": DeploymentStates(catalog=catalog, state=state, clock=clock),
    }
    return create_app(
        dependencies={name: _provide(service) for name, service in services.items()},
        gatekeeper=(lambda: gatekeeper) if master_key else None,
        max_body_bytes=max_body,
        lifespan=[_opening(opened)],
        public_metrics=public_metrics,
    )


def _opening(store: DeferredStore):
    @asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[None]:
        await store.open()
        yield

    return lifespan


def _opened(store: InMemoryStore):
    async def opener() -> InMemoryStore:
        return store

    return opener


def _unparsable(record: DeploymentRecord) -> Deployment:
    raise BadRequestError("no models are added in these tests", param="litellm_params")


@pytest.fixture
def provider() -> FakeLLMProvider:
    return FakeLLMProvider()


@pytest.fixture
async def client(provider: FakeLLMProvider) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(_app(provider)) as test_client:
        yield test_client


def _error(response) -> dict:
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


async def test_a_chat_completion_answers_in_openai_format_with_gateway_headers(client, provider) -> None:
    provider.replies.append(reply("Hello!"))

    response = await client.post("/v1/chat/completions", json=CHAT)

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Hello!"} | {
        k: v for k, v in body["choices"][0]["message"].items() if k not in ("role", "content")
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == 7
    assert response.headers["x-switchyard-model-id"] == "dep-1"
    assert response.headers["x-switchyard-call-id"]
    assert float(response.headers["x-switchyard-overhead-duration-ms"]) >= 0


async def test_the_request_id_is_the_clients_own_echoed_back_else_the_call_id(client, provider) -> None:
    provider.replies.append(reply("Hello!"))
    provider.replies.append(reply("Hello!"))

    given = await client.post("/v1/chat/completions", json=CHAT, headers={"x-request-id": "trace-42"})
    made = await client.post("/v1/chat/completions", json=CHAT)
    refused = await client.post("/v1/chat/completions", json={**CHAT, "model": "nope"})

    assert given.headers["x-request-id"] == "trace-42"
    assert made.headers["x-request-id"] == made.headers["x-switchyard-call-id"]
    assert refused.status_code == 404
    assert refused.headers["x-request-id"] == refused.headers["x-switchyard-call-id"]


async def test_the_unversioned_path_serves_chat_too(client) -> None:
    response = await client.post("/chat/completions", json=CHAT)

    assert response.status_code == 200


async def test_invalid_json_is_a_400_saying_so(client) -> None:
    response = await client.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    assert "JSON" in error["message"]


async def test_an_empty_body_is_a_400(client) -> None:
    response = await client.post("/v1/chat/completions", content=b"")

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "gpt-x"}, "messages"),
        ({**CHAT, "temperature": "hot"}, "temperature"),
        ({**CHAT, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ],
)
async def test_a_missing_or_wrong_typed_field_is_a_400_naming_it(client, body, param) -> None:
    response = await client.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    assert _error(response)["param"] == param


async def test_an_unknown_model_is_a_404_model_not_found(client) -> None:
    response = await client.post("/v1/chat/completions", json={**CHAT, "model": "nope"})

    assert response.status_code == 404
    assert _error(response)["code"] == "model_not_found"


async def test_a_too_large_body_is_a_413_in_openai_shape(provider) -> None:
    async with AsyncTestClient(_app(provider, max_body=200)) as client:
        big = {**CHAT, "messages": [{"role": "user", "content": "x" * 1000}]}
        response = await client.post("/v1/chat/completions", json=big)

    assert response.status_code == 413
    assert _error(response)["type"] == "invalid_request_error"


async def test_an_unknown_route_is_a_404_in_openai_shape(client) -> None:
    response = await client.post("/v1/nothing-here", json={})

    assert response.status_code == 404
    _error(response)


async def test_an_upstream_rate_limit_keeps_429_and_retry_after(client, provider) -> None:
    provider.replies.append(RateLimitError("Rate limit reached", retry_after=7))

    response = await client.post("/v1/chat/completions", json=CHAT)

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert _error(response)["type"] == "rate_limit_error"
    assert response.headers["x-switchyard-call-id"]


async def test_a_context_window_error_is_a_400_with_its_code(client, provider) -> None:
    provider.replies.append(ContextWindowExceededError("too long"))

    response = await client.post("/v1/chat/completions", json=CHAT)

    assert response.status_code == 400
    assert _error(response)["code"] == "context_length_exceeded"


def _events(text: str) -> list[str]:
    assert text.endswith("\n\n")
    return [event.removeprefix("data: ") for event in text.strip().split("\n\n")]


async def test_a_stream_is_sse_chunk_per_event_ending_with_done(client, provider) -> None:
    provider.streams.append(chunks_of("Hello there"))

    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-switchyard-model-id"] == "dep-1"
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hellothere"
    assert all(c.get("usage") is None for c in chunks)


async def test_a_stream_ends_with_a_usage_chunk_when_asked(client, provider) -> None:
    provider.streams.append(chunks_of("Hi"))

    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = await client.post("/v1/chat/completions", json=body)

    last = orjson.loads(_events(response.text)[-2])
    assert last["choices"] == []
    assert last["usage"]["total_tokens"] == 7


async def test_an_error_before_the_stream_opens_keeps_its_status(client, provider) -> None:
    provider.streams.append(RateLimitError("busy", retry_after=2))

    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})

    assert response.status_code == 429
    assert _error(response)["type"] == "rate_limit_error"


async def test_an_error_mid_stream_is_sent_as_the_last_event_and_the_upstream_closed(
    client, provider
) -> None:
    provider.streams.append([*chunks_of("a b")[:2], RateLimitError("cut")])

    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})

    events = _events(response.text)
    assert orjson.loads(events[-1])["error"]["type"] == "rate_limit_error"
    assert provider.opened[0].closed


async def test_models_lists_every_public_model_name(client) -> None:
    response = await client.get("/v1/models")

    assert response.status_code == 200
    assert {m["id"] for m in response.json()["data"]} == {"gpt-x", "embedder"}
    assert response.json()["object"] == "list"


async def test_models_keep_their_shape_for_codex_which_adds_its_client_version(client) -> None:
    plain = await client.get("/v1/models")
    asked = await client.get("/v1/models", params={"client_version": "0.171.0"})

    assert asked.status_code == 200
    assert asked.json() == plain.json()


async def test_embeddings_answer_in_float_or_base64(client) -> None:
    floats = await client.post("/v1/embeddings", json={"model": "embedder", "input": "a"})
    packed = await client.post(
        "/v1/embeddings", json={"model": "embedder", "input": ["a"], "encoding_format": "base64"}
    )

    assert floats.json()["data"][0]["embedding"] == [0.5, -0.25, 1.0]
    raw = base64.b64decode(packed.json()["data"][0]["embedding"])
    assert struct.unpack("<3f", raw) == (0.5, -0.25, 1.0)
    assert packed.headers["x-switchyard-model-id"] == "dep-e"


async def test_health_probes_answer_without_a_key(provider) -> None:
    async with AsyncTestClient(_app(provider, master_key=MASTER_KEY)) as client:
        assert (await client.get("/health/liveliness")).status_code == 200
        assert (await client.get("/health/liveness")).status_code == 200
        readiness = (await client.get("/health/readiness")).json()
        assert (readiness["status"], readiness["router_state"], readiness["db"]) == (
            "healthy",
            "memory",
            "memory",
        )


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {MASTER_KEY}"},
        {"api-key": MASTER_KEY},
        {"x-api-key": MASTER_KEY},
    ],
)
async def test_the_master_key_is_accepted_in_each_supported_header(provider, headers) -> None:
    async with AsyncTestClient(_app(provider, master_key=MASTER_KEY)) as client:
        response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)

    assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer sk-wrong"}, {"authorization": "Basic x"}])
async def test_api_routes_refuse_a_missing_or_wrong_key_with_401(provider, headers) -> None:
    async with AsyncTestClient(_app(provider, master_key=MASTER_KEY)) as client:
        for path in ("/v1/models", "/v1/chat/completions"):
            response = await client.request(
                "GET" if path.endswith("models") else "POST", path, json=CHAT, headers=headers
            )
            assert response.status_code == 401
            assert _error(response)["type"] == "authentication_error"


async def test_dropped_parameters_are_listed_in_a_response_header(client, provider) -> None:
    provider.cannot = frozenset({"seed"})

    response = await client.post("/v1/chat/completions", json={**CHAT, "seed": 3, "drop_params": True})
    refused = await client.post("/v1/chat/completions", json={**CHAT, "seed": 3})

    assert response.headers["x-switchyard-dropped-params"] == "seed"
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "seed"


async def test_an_unexpected_failure_is_a_500_in_openai_shape_not_a_crash(client, provider) -> None:
    provider.replies.append(RuntimeError("a bug"))

    response = await client.post("/v1/chat/completions", json=CHAT)

    assert response.status_code == 500
    assert _error(response)["type"] == "server_error"
    assert "a bug" not in response.text


async def test_models_show_what_each_model_can_do(client) -> None:
    models = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}

    assert models["gpt-x"]["capabilities"]["chat"] is True
    assert models["embedder"]["capabilities"] == models["embedder"]["capabilities"] | {
        "embeddings": True,
        "chat": False,
    }


async def test_model_info_describes_every_deployment_without_its_credentials(client) -> None:
    info = (await client.get("/v1/model/info")).json()["data"]

    by_id = {entry["model_info"]["id"]: entry for entry in info}
    assert by_id["dep-e"]["model_info"]["mode"] == "embedding"
    assert by_id["dep-1"]["litellm_params"] == {"model": "openai/gpt-4o-mini", "api_base": None}
    assert by_id["dep-1"]["model_info"]["supports_function_calling"] is True


async def test_model_info_shows_the_prices_the_config_sets_and_none_for_the_rest() -> None:
    priced = Deployment(
        id="dep-p",
        model_name="priced",
        provider="openai",
        upstream_model="gpt-4o",
        prices=ModelPrices(input=Decimal("0.0000025"), cache_read=Decimal("0.00000125")),
    )
    async with AsyncTestClient(_app(FakeLLMProvider(), more=(priced,))) as client:
        info = (await client.get("/v1/model/info")).json()["data"]

    shown = {entry["model_info"]["id"]: entry["model_info"] for entry in info}["dep-p"]
    assert shown["input_cost_per_token"] == 0.0000025
    assert shown["cache_read_input_token_cost"] == 0.00000125
    assert shown["output_cost_per_token"] is None
    assert shown["input_cost_per_token_above_200k_tokens"] is None


async def test_routing_tags_may_come_as_a_header(client, provider) -> None:
    await client.post("/v1/chat/completions", json=CHAT, headers={"x-switchyard-tags": "eu, fast"})

    assert provider.requests[-1][0].controls["tags"] == ["eu", "fast"]


class _RefusingOne(FakeLLMProvider):
    """Answers every deployment but `dep-b`, whose upstream refuses its key."""

    async def complete(self, request, deployment):
        if deployment.id == "dep-b":
            raise AuthenticationError("Incorrect API key provided")
        return await super().complete(request, deployment)


SECOND = Deployment(
    id="dep-b",
    model_name="other",
    provider="openai",
    upstream_model="gpt-4o",
    api_base="https://user:pw-hidden@llm.example.com/v1?key=q-hidden",
    credentials=Credentials(api_key=Secret(UPSTREAM_KEY), extra={"aws_secret_access_key": "aws-hidden"}),
)
WILDCARD = Deployment(id="dep-w", model_name="openai/*", provider="openai", upstream_model="*")


async def test_health_needs_the_master_key_when_one_is_set(provider) -> None:
    async with AsyncTestClient(_app(provider, master_key=MASTER_KEY)) as client:
        refused = await client.get("/health")
        allowed = await client.get("/health", headers={"authorization": f"Bearer {MASTER_KEY}"})

    assert refused.status_code == 401
    assert _error(refused)["type"] == "authentication_error"
    assert allowed.status_code == 200
    assert provider.requests  # the real minimal calls were made


async def test_health_reports_every_deployment_in_litellm_shape_without_credentials() -> None:
    async with AsyncTestClient(_app(_RefusingOne(), more=(SECOND, WILDCARD))) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert (body["healthy_count"], body["unhealthy_count"]) == (2, 1)
    healthy = {entry["id"]: entry for entry in body["healthy_endpoints"]}
    assert set(healthy) == {"dep-1", "dep-e"}
    assert set(healthy["dep-1"]) == {"model", "id", "provider", "api_base", "latency_ms"}
    assert healthy["dep-1"]["model"] == "gpt-x" and healthy["dep-1"]["provider"] == "openai"
    (unhealthy,) = body["unhealthy_endpoints"]
    assert unhealthy["id"] == "dep-b"
    assert unhealthy["error"] == "Incorrect API key provided"
    assert unhealthy["failure"] == {"kind": "auth", "status_code": 401}
    assert unhealthy["api_base"] == "https://llm.example.com/v1"
    assert [entry["id"] for entry in body["skipped_endpoints"]] == ["dep-w"]
    for secret in (UPSTREAM_KEY, "pw-hidden", "q-hidden", "aws-hidden"):
        assert secret not in response.text


async def test_health_checks_only_the_model_named(client, provider) -> None:
    response = await client.get("/health", params={"model": "embedder"})
    unknown = await client.get("/health", params={"model": "nope"})

    assert [entry["id"] for entry in response.json()["healthy_endpoints"]] == ["dep-e"]
    assert [deployment.id for _, deployment in provider.requests] == ["dep-e"]
    assert unknown.status_code == 404


async def test_model_info_shows_each_deployments_live_state(client, provider) -> None:
    provider.replies.append(AuthenticationError("upstream key revoked"))
    await client.post("/v1/chat/completions", json=CHAT)

    info = (await client.get("/v1/model/info")).json()["data"]
    models = (await client.get("/v1/models")).json()["data"]

    state = {entry["model_info"]["id"]: entry["state"] for entry in info}
    assert state["dep-1"]["healthy"] is False
    assert state["dep-1"]["cooldown_until"] > 0
    assert state["dep-1"]["cooldown_reason"] == {"kind": "auth", "status_code": 401}
    assert (state["dep-1"]["in_flight"], state["dep-1"]["minute_requests"]) == (0, 1)
    assert state["dep-e"] == {
        "healthy": True,
        "cooldown_until": None,
        "cooldown_reason": None,
        "in_flight": 0,
        "minute_requests": 0,
        "minute_tokens": 0,
        "latency_ms": None,
    }
    assert all("state" not in model for model in models)


PRICED = Deployment(
    id="dep-p",
    model_name="priced",
    provider="openai",
    upstream_model="gpt-4o-mini",
    prices=ModelPrices(input=Decimal("0.000001"), output=Decimal("0.000002")),
)


async def test_a_reply_carries_its_exact_cost_split_into_input_and_output(provider) -> None:
    provider.replies.append(reply("priced answer"))
    async with AsyncTestClient(_app(provider, more=(PRICED,))) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "model": "priced"})

    # usage 5 prompt + 2 completion tokens: 5 x 0.000001 + 2 x 0.000002
    assert response.headers["x-switchyard-response-cost"] == "0.000009"
    assert response.headers["x-switchyard-response-cost-input"] == "0.000005"
    assert response.headers["x-switchyard-response-cost-output"] == "0.000004"


async def test_a_reply_of_a_model_without_a_price_carries_no_cost_header(client, provider) -> None:
    provider.replies.append(reply("unpriced"))

    response = await client.post("/v1/chat/completions", json=CHAT)

    assert response.status_code == 200
    assert "x-switchyard-response-cost" not in response.headers


async def test_a_key_over_its_budget_is_refused_with_400_budget_exceeded(provider) -> None:
    provider.replies.extend([reply("one"), reply("two")])
    master = {"Authorization": f"Bearer {MASTER_KEY}"}
    async with AsyncTestClient(_app(provider, master_key=MASTER_KEY, more=(PRICED,))) as client:
        budget = {"max_budget": 0.000009, "key_alias": "b"}
        made = await client.post("/key/generate", json=budget, headers=master)
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        first = await client.post("/v1/chat/completions", json={**CHAT, "model": "priced"}, headers=key)
        # the first call's cost is settled and recorded off the request path; let that happen
        for _ in range(20):
            await asyncio.sleep(0)
        second = await client.post("/v1/chat/completions", json={**CHAT, "model": "priced"}, headers=key)

    assert first.status_code == 200
    assert second.status_code == 400
    error = second.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "budget_exceeded")
    assert error["param"] == "max_budget"
    assert "key b has spent $0.000009 of its $0.000009 budget" in error["message"]


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_each_call_by_bounded_labels(client, provider) -> None:
    provider.replies.append(reply("Hello!"))
    await client.post("/v1/chat/completions", json=CHAT)
    await client.post("/v1/chat/completions", json={**CHAT, "model": "no-such-model"})

    response = await client.get("/metrics")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    answered = (("model_group", "gpt-x"), ("provider", "openai"), ("route", "chat"), ("status", "200"))
    refused = (("model_group", "other"), ("provider", "none"), ("route", "chat"), ("status", "404"))
    assert samples[("switchyard_requests_total", answered)] == 1
    assert samples[("switchyard_requests_total", refused)] == 1  # any name a client sends counts as other
    tokens = (("model_group", "gpt-x"), ("provider", "openai"), ("type", "output"))
    assert samples[("switchyard_tokens_total", tokens)] > 0
    assert samples[("switchyard_request_duration_seconds_count", answered)] == 1


async def test_metrics_need_an_admins_key_unless_made_public(provider) -> None:
    async with AsyncTestClient(_app(provider, master_key=MASTER_KEY)) as client:
        anonymous = await client.get("/metrics")
        admin = await client.get("/metrics", headers={"Authorization": f"Bearer {MASTER_KEY}"})

    assert anonymous.status_code == 401 and admin.status_code == 200
    async with AsyncTestClient(_app(provider, master_key=MASTER_KEY, public_metrics=True)) as client:
        assert (await client.get("/metrics")).status_code == 200


async def test_the_inference_lane_answers_as_litestar_routing_does(client, provider) -> None:
    # /v1/chat/completions is answered in front of Litestar's routing; with a trailing slash the same
    # handler is reached through Litestar's.
    provider.replies.extend([reply("Hello!"), reply("Hello!")])

    lane = await client.post("/v1/chat/completions", json=CHAT)
    routed = await client.post("/v1/chat/completions/", json=CHAT)

    assert (lane.status_code, routed.status_code) == (200, 200)
    assert lane.json()["choices"] == routed.json()["choices"]
    assert set(lane.headers) == set(routed.headers)
    assert lane.headers["content-type"] == routed.headers["content-type"] == "application/json"


async def test_other_methods_on_a_lane_route_are_still_litestars_405(client) -> None:
    response = await client.get("/v1/chat/completions")

    assert response.status_code == 405
    _error(response)


async def test_the_lane_asks_for_a_key_like_every_api_route(provider) -> None:
    async with AsyncTestClient(_app(provider, master_key="sk-master")) as client:
        missing = await client.post("/v1/chat/completions", json=CHAT)
        embed = {"model": "embedder", "input": "a"}
        wrong = await client.post("/v1/embeddings", json=embed, headers={"Authorization": "Bearer sk-nope"})

    assert missing.status_code == 401
    assert _error(missing)["code"] == "missing_api_key"
    assert wrong.status_code == 401


async def test_a_key_check_that_breaks_is_a_500_in_openai_shape_on_the_lane_as_on_other_routes(
    provider, monkeypatch
) -> None:
    async def broken(self, secret: str, path: str) -> None:
        raise RuntimeError("the identity store broke")

    monkeypatch.setattr(Gatekeeper, "authenticate", broken)
    async with AsyncTestClient(_app(provider, master_key="sk-master")) as client:
        headers = {"Authorization": "Bearer sk-master"}
        lane = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
        routed = await client.get("/v1/models", headers=headers)

    assert (lane.status_code, routed.status_code) == (500, 500)
    assert _error(lane) == _error(routed)
    assert "broke" not in lane.text
