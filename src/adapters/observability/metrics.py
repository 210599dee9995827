"""Prometheus metrics of the calls, from each finished call's record, for `GET /metrics`.

Labels are bounded: a model group the config does not serve is counted as `other` (a client may send any
name), and no key, user, address or request id is ever a label. With several worker processes the
figures of all are summed (prometheus-client's multiprocess mode, in a directory of the server's own:
`PROMETHEUS_MULTIPROC_DIR`, set by `switchyard serve`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from domain.spend import SpendRecord
from ports.call_observer import CallObserver

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")


class PrometheusMetrics(CallObserver):
    """Counts each finished call: requests by model group, provider, route (the call type) and status
    code; their durations and times to first token; tokens by type; spend in USD; retries and
    fallbacks. `render` is the exposition text of every worker's figures summed."""

    def __init__(self, groups: Iterable[str] = ()) -> None:
        self._groups = frozenset(groups)
        self._multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        # In multiprocess mode each process writes its values to files; the registry of the scrape
        # reads them all. Registering here too would count this process twice.
        self.registry = CollectorRegistry()
        where = None if self._multiprocess else self.registry
        route = ("model_group", "provider", "route", "status")
        self.requests = Counter("switchyard_requests", "Calls answered or failed.", route, registry=where)
        self.duration = Histogram(
            "switchyard_request_duration_seconds", "Whole calls, from arrival to last byte.", route,
            buckets=_LATENCY_BUCKETS, registry=where,
        )  # fmt: skip
        self.first_token = Histogram(
            "switchyard_time_to_first_token_seconds", "Streams: arrival to first token.",
            ("model_group", "provider"), buckets=_LATENCY_BUCKETS, registry=where,
        )  # fmt: skip
        self.tokens = Counter(
            "switchyard_tokens", "Tokens by kind.", ("model_group", "provider", "type"), registry=where
        )
        self.spend = Counter(
            "switchyard_spend_usd", "What calls cost, in USD.", ("model_group", "provider"), registry=where
        )
        self.retries = Counter("switchyard_retries", "Attempts retried.", ("model_group",), registry=where)
        self.fallbacks = Counter("switchyard_fallbacks", "Fallbacks taken.", ("model_group",), registry=where)
        self._series: dict[tuple[str, str, str, str], _Series] = {}

    def call_ended(self, record: SpendRecord) -> None:
        group = record.model_group if record.model_group in self._groups else OTHER
        provider = record.provider or "none"
        key = (group, provider, record.call_type, str(record.status_code or 0))
        series = self._series.get(key)
        if series is None:  # `labels()` takes a lock and builds a key each time: look each up once
            series = self._series[key] = _Series(self, key)
        series.requests.inc()
        series.duration.observe((record.ended_at - record.started_at).total_seconds())
        if record.time_to_first_token is not None:
            series.first_token.observe(record.time_to_first_token)
        usage = record.usage
        counts = (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_tokens,
            usage.cache_creation_tokens,
            usage.reasoning_tokens,
        )
        for counter, count in zip(series.tokens, counts, strict=True):
            if count:
                counter.inc(count)
        if record.cost:
            series.spend.inc(float(record.cost))
        if record.retries:
            series.retries.inc(record.retries)
        if record.fallbacks:
            series.fallbacks.inc(record.fallbacks)

    def render(self) -> bytes:
        if not self._multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


class _Series:
    """The labelled children one (model group, provider, route, status) updates."""

    __slots__ = ("duration", "fallbacks", "first_token", "requests", "retries", "spend", "tokens")

    def __init__(self, metrics: PrometheusMetrics, key: tuple[str, str, str, str]) -> None:
        group, provider = key[0], key[1]
        self.requests = metrics.requests.labels(*key)
        self.duration = metrics.duration.labels(*key)
        self.first_token = metrics.first_token.labels(group, provider)
        self.tokens = tuple(metrics.tokens.labels(group, provider, kind) for kind in _TOKEN_TYPES)
        self.spend = metrics.spend.labels(group, provider)
        self.retries = metrics.retries.labels(group)
        self.fallbacks = metrics.fallbacks.labels(group)
