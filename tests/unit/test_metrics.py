"""GET /metrics as the assembled gateway serves it: the figures of calls, the sampled gauges of its state,
the opt-in per-key series, and the switch that turns metrics off."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.config import load_config
from adapters.observability.metrics import MULTIPROCESS_ENV, PrometheusMetrics
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from bootstrap import Container, build_container, create_http_app, resolve
from domain.completions import CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.spend import SpendRecord
from ports.spend_ledger import SpendLedger
from ports.unit_of_work import StoreUnavailable
from tests.fakes import FakeLLMProvider

MASTER_KEY = "sk-master-metrics"
MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
PRICES = {"input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}
CHAT = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
DEMO = (("model_group", "demo"), ("provider", "mock"))

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class BlockedSink:
    """A callback that takes one record and then waits until the test lets it go (from the test's
    thread: the test client serves the app in a thread of its own)."""

    opened: list[BlockedSink] = []

    def __init__(self) -> None:
        self.gate = threading.Event()
        BlockedSink.opened.append(self)

    async def on_success(self, record: dict[str, Any]) -> None:
        while not self.gate.is_set():
            await asyncio.sleep(0.01)

    async def on_failure(self, record: dict[str, Any]) -> None:
        await self.on_success(record)


class ScrapingProvider(FakeLLMProvider):
    """Reads GET /metrics' text while it answers (the test client serves one request at a time)."""

    metrics: PrometheusMetrics
    during: bytes = b""

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        self.during = await self.metrics.scrape()
        return await super().complete(request, deployment)


def _config(**sections: Any) -> dict[str, Any]:
    model_list = [
        {"model_name": "demo", "litellm_params": {"model": "mock/demo"}, "model_info": {"id": "a", **PRICES}},
        {"model_name": "demo", "litellm_params": {"model": "mock/demo"}, "model_info": {"id": "b", **PRICES}},
    ]
    general = {"master_key": MASTER_KEY, **sections.pop("general_settings", {})}
    return {"model_list": model_list, "general_settings": general, **sections}


class UnwritableLedger(InMemorySpendLedger):
    """A ledger whose database is away."""

    async def write(self, records: Sequence[SpendRecord]) -> int:
        raise StoreUnavailable("down")


@asynccontextmanager
async def _gateway(
    config: dict[str, Any], upstream: FakeLLMProvider | None = None, ledger: SpendLedger | None = None
) -> AsyncIterator[tuple[AsyncTestClient, Container]]:
    container = build_container(load_config(config, {"DATABASE_URL": "memory://"}))
    if upstream is not None:  # in place of the mock deployments' provider
        container.mock_provider.override(providers.Object(upstream))
    if ledger is not None:
        container.spend_ledger.override(providers.Object(ledger))
    async with AsyncTestClient(create_http_app(container)) as client:
        yield client, container


async def _scrape(client: AsyncTestClient) -> Samples:
    response = await client.get("/metrics", headers=MASTER)
    assert response.status_code == 200
    return _parsed(response.text)


def _parsed(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _labelled(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (found, labels), value in samples.items() if found == name}


async def test_upstream_and_overhead_histograms_count_each_chat_and_stream_call() -> None:
    async with _gateway(_config()) as (client, _):
        assert (await client.post("/v1/chat/completions", json=CHAT, headers=MASTER)).status_code == 200
        streamed = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=MASTER)
        assert streamed.status_code == 200 and "[DONE]" in streamed.text
        samples = await _scrape(client)

    for route in ("chat", "stream"):
        labels = (*DEMO, ("route", route))
        assert samples[("switchyard_upstream_duration_seconds_count", labels)] == 1
        assert samples[("switchyard_overhead_seconds_count", labels)] == 1
        # overhead buckets start at 0.1 ms: a call's own time shows in the sub-millisecond buckets
        finest = tuple(sorted((*labels, ("le", "0.0001"))))
        assert ("switchyard_overhead_seconds_bucket", finest) in samples
    assert samples[("switchyard_in_flight_requests", ())] == 0  # both calls over, the stream at its end
    assert samples[("switchyard_cache_requests_total", (("result", "hit"),))] == 0


async def test_a_call_is_in_flight_while_it_is_answered() -> None:
    upstream = ScrapingProvider()
    async with _gateway(_config(), upstream) as (client, container):
        upstream.metrics = await resolve(container.metrics)
        assert (await client.post("/v1/chat/completions", json=CHAT, headers=MASTER)).status_code == 200
        after = await _scrape(client)

    assert _parsed(upstream.during.decode())[("switchyard_in_flight_requests", ())] == 1
    assert after[("switchyard_in_flight_requests", ())] == 0


async def test_a_deployment_cooling_down_shows_as_1_and_the_others_as_0() -> None:
    async with _gateway(_config()) as (client, container):
        state = await resolve(container.router_state)
        await state.cool_down("b", time.time() + 60, time.time())
        samples = await _scrape(client)

    assert _labelled(samples, "switchyard_deployment_state") == {
        (("deployment", "a"),): 0,
        (("deployment", "b"),): 1,
    }


async def test_each_callbacks_queue_is_gauged_by_its_name() -> None:
    sink = f"{__name__}.BlockedSink"
    BlockedSink.opened.clear()
    async with _gateway(_config(litellm_settings={"callbacks": [sink]})) as (client, _):
        for _ in range(3):
            assert (await client.post("/v1/chat/completions", json=CHAT, headers=MASTER)).status_code == 200
        samples = await _scrape(client)
        for opened in BlockedSink.opened:
            opened.gate.set()

    # the sink holds the first record: the other two wait in its queue
    assert samples[("switchyard_callback_queue_length", (("callback", sink),))] == 2
    assert samples[("switchyard_callback_dropped_total", (("callback", sink),))] == 0


async def test_the_ledger_backlog_counts_the_records_waiting_for_an_unreachable_database() -> None:
    async with _gateway(_config(), ledger=UnwritableLedger()) as (client, _):
        for _ in range(3):
            assert (await client.post("/v1/chat/completions", json=CHAT, headers=MASTER)).status_code == 200
        samples = await _scrape(client)

    assert samples[("switchyard_ledger_backlog", ())] == 3


async def test_key_and_team_series_appear_only_with_prometheus_key_metrics() -> None:
    async with _gateway(_config()) as (client, _):
        assert (await client.post("/v1/chat/completions", json=CHAT, headers=MASTER)).status_code == 200
        samples = await _scrape(client)

    assert not [name for name, _ in samples if name.startswith(("switchyard_key_", "switchyard_team_"))]


async def test_key_metrics_label_keys_by_alias_or_hash_prefix_never_by_the_key() -> None:
    config = _config(general_settings={"prometheus_key_metrics": True})
    async with _gateway(config) as (client, _):
        team = (
            await client.post("/team/new", json={"team_alias": "blue", "max_budget": 5}, headers=MASTER)
        ).json()
        limits = {"max_budget": 10, "rpm_limit": 100, "tpm_limit": 100_000}
        alice = (
            await client.post(
                "/key/generate",
                json={"key_alias": "alice", "team_id": team["team_id"], **limits},
                headers=MASTER,
            )
        ).json()
        bare = (await client.post("/key/generate", json={"rpm_limit": 50}, headers=MASTER)).json()
        for key in (alice["key"], bare["key"]):
            answer = await client.post(
                "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 200
        text = (await client.get("/metrics", headers=MASTER)).text
        samples = await _scrape(client)

    assert alice["key"] not in text and bare["key"] not in text
    prefix = bare["token"][:12]
    assert samples[("switchyard_key_rate_limit_remaining", (("key", "alice"), ("kind", "requests")))] == 99
    assert samples[("switchyard_key_rate_limit_remaining", (("key", prefix), ("kind", "requests")))] == 49
    assert 0 < samples[("switchyard_key_spend_usd_total", (("key", "alice"),))] < 0.01
    assert 9.99 < samples[("switchyard_key_budget_remaining_usd", (("key", "alice"),))] <= 10
    assert 4.99 < samples[("switchyard_team_budget_remaining_usd", (("team", team["team_id"]),))] <= 5


@pytest.mark.parametrize("public", [False, True])
async def test_with_metrics_off_get_metrics_is_an_unknown_route_and_calls_still_work(public: bool) -> None:
    config = _config(general_settings={"metrics": False, "public_metrics": public})
    async with _gateway(config) as (client, container):
        answer = await client.post("/v1/chat/completions", json=CHAT, headers=MASTER)
        scrape = await client.get("/metrics", headers=MASTER)
        metrics = await resolve(container.metrics)

    assert answer.status_code == 200
    assert scrape.status_code == 404 and scrape.json()["error"]["type"] == "invalid_request_error"
    assert metrics is None


@pytest.mark.parametrize(
    ("settings", "metrics", "key_metrics"),
    [
        ({}, True, False),
        ({"general_settings": {"prometheus_key_metrics": True}}, True, True),
        ({"litellm_settings": {"prometheus_key_metrics": True}}, True, True),
        ({"general_settings": {"metrics": False, "prometheus_key_metrics": True}}, False, False),
    ],
)
def test_the_config_turns_metrics_off_and_key_metrics_on(
    settings: dict[str, Any], metrics: bool, key_metrics: bool
) -> None:
    config = load_config(settings, {})

    assert (config.metrics, config.key_metrics) == (metrics, key_metrics)
    assert not [path for path in config.ignored if "metrics" in path]


def test_a_dead_workers_live_gauges_are_dropped_at_start_and_its_counts_kept(tmp_path, monkeypatch) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid, alive_pid = int(dead.stdout), os.getpid()
    files = [f"gauge_livesum_{dead_pid}.db", f"counter_{dead_pid}.db", f"gauge_livesum_{alive_pid}.db"]
    for name in files:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path))

    PrometheusMetrics()  # as a worker starts

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(files[1:])
