"""A worker's own call series count exactly what prometheus-client's own counting would: the same
buckets, sums and counts for every figure of a call, bucket bounds included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from adapters.observability.metrics import _LATENCY_BUCKETS, _OVERHEAD_BUCKETS, PrometheusMetrics
from domain.completions import Usage
from domain.spend import SpendRecord

START = datetime(2026, 1, 1, tzinfo=UTC)
EDGES = (0.0, 0.00005, 0.0001, 0.00025, 0.0007, 0.005, 0.0051, 0.25, 1.0, 299.0, 300.0, 301.0, 1e9)
"""Latencies below, at and between bucket bounds, and past the last."""


def _record(latency: float, upstream: float, first_token: float | None) -> SpendRecord:
    return SpendRecord(
        request_id="call",
        call_type="stream" if first_token is not None else "chat",
        started_at=START,
        ended_at=START + timedelta(seconds=latency),
        model_group="demo",
        provider="mock",
        usage=Usage(prompt_tokens=40, completion_tokens=7, cached_tokens=3),
        cost=Decimal("0.0000102"),
        status_code=200,
        retries=1,
        upstream_seconds=upstream,
        time_to_first_token=first_token,
    )


def _samples(registry: CollectorRegistry, names: set[str]) -> dict[tuple[str, str | None], float]:
    """Each sample of the named families, summed over the series (the routes) by bucket."""
    summed: dict[tuple[str, str | None], float] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        if family.name not in names:
            continue
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                key = (sample.name, sample.labels.get("le"))
                summed[key] = summed.get(key, 0.0) + sample.value
    return summed


def test_the_call_histograms_hold_what_prometheus_clients_observe_holds() -> None:
    metrics = PrometheusMetrics(["demo"])
    reference = CollectorRegistry()
    duration = Histogram(
        "switchyard_request_duration_seconds", "", buckets=_LATENCY_BUCKETS, registry=reference
    )
    upstream = Histogram(
        "switchyard_upstream_duration_seconds", "", buckets=_LATENCY_BUCKETS, registry=reference
    )
    overhead = Histogram("switchyard_overhead_seconds", "", buckets=_OVERHEAD_BUCKETS, registry=reference)
    first = Histogram(
        "switchyard_time_to_first_token_seconds", "", buckets=_LATENCY_BUCKETS, registry=reference
    )

    for latency in EDGES:
        for spent_upstream in (0.0, latency / 2, latency):
            for first_token in (None, latency / 3):
                metrics.call_ended(_record(latency, spent_upstream, first_token))
                measured = (START + timedelta(seconds=latency) - START).total_seconds()
                duration.observe(measured)
                upstream.observe(spent_upstream)
                overhead.observe(max(measured - spent_upstream, 0.0))
                if first_token is not None:
                    first.observe(first_token)

    names = {metric._name for metric in (duration, upstream, overhead, first)}
    ours = _samples(metrics.registry, names)
    assert ours == _samples(reference, names)
    assert ours[("switchyard_request_duration_seconds_count", None)] == len(EDGES) * 6


def test_the_call_counters_and_the_in_flight_gauge_count_every_call() -> None:
    metrics = PrometheusMetrics(["demo"])
    for _ in range(3):
        metrics.in_flight.inc()
    metrics.in_flight.dec()
    for _ in range(5):
        metrics.call_ended(_record(0.02, 0.01, None))

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    route = {"model_group": "demo", "provider": "mock", "route": "chat", "status": "200"}
    assert value("switchyard_requests_total", **route) == 5
    assert value("switchyard_tokens_total", model_group="demo", provider="mock", type="input") == 200
    assert value("switchyard_tokens_total", model_group="demo", provider="mock", type="cache_read") == 15
    assert value("switchyard_spend_usd_total", model_group="demo", provider="mock") == 5 * 0.0000102
    assert value("switchyard_retries_total", model_group="demo") == 5
    assert value("switchyard_in_flight_requests") == 2
