"""Prometheus metrics of the calls, from each finished call's record, for `GET /metrics`.

Labels are bounded: a model group the config does not serve is counted as `other` (a client may send any
name), and no key, user, address or request id is ever a label. With several worker processes the
figures of all are summed (prometheus-client's multiprocess mode, in a directory of the server's own:
`PROMETHEUS_MULTIPROC_DIR`, set by `switchyard serve`); gauges say how theirs combine.
"""

from __future__ import annotations

import contextlib
import os
import re
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.values import MutexValue

from domain.guardrails import Decision, GuardrailMode
from domain.spend import CallStatus, SpendRecord
from ports.call_observer import CallObserver

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
"""The gateway's own time in a call is a fraction of a millisecond: buckets from 0.1 ms."""
_TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")
CACHEABLE = frozenset(
    {"chat", "stream", "embeddings", "messages", "messages.stream", "responses", "responses.stream"}
)
"""The call types a response cache answers; with a cache on, their answered calls that it did not
answer count as misses."""
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


class PrometheusMetrics(CallObserver):
    """Counts each finished call: requests by model group, provider, route (the call type) and status
    code; their durations, upstream waits, the gateway's own overhead and times to first token; tokens
    by type; spend in USD; retries and fallbacks; response-cache hits (and misses, once `cache_enabled`).
    Holds the gauge of calls in flight, which the HTTP edge moves. `scrape` is the exposition text of
    every worker's figures, after the samplers (`sampled_by`) have refreshed this worker's gauges."""

    def __init__(self, groups: Iterable[str] = (), *, cache_enabled: bool = False) -> None:
        self._groups = frozenset(groups)
        self._multiprocess = bool(os.environ.get(MULTIPROCESS_ENV))
        # In multiprocess mode each process writes its values to files; the registry of the scrape
        # reads them all. Registering here too would count this process twice.
        self.registry = CollectorRegistry()
        self.target = where = None if self._multiprocess else self.registry
        """Where further metrics register (None in multiprocess mode: prometheus-client's files)."""
        if self._multiprocess:
            _forget_dead_workers(os.environ[MULTIPROCESS_ENV])
        self._samplers: list[Callable[[], Awaitable[None]]] = []
        route = ("model_group", "provider", "route", "status")
        self.requests = Counter("switchyard_requests", "Calls answered or failed.", route, registry=where)
        self.duration = Histogram(
            "switchyard_request_duration_seconds", "Whole calls, from arrival to last byte.", route,
            buckets=_LATENCY_BUCKETS, registry=where,
        )  # fmt: skip
        served = ("model_group", "provider", "route")
        self.upstream = Histogram(
            "switchyard_upstream_duration_seconds", "Time spent waiting on upstreams, retries included.",
            served, buckets=_LATENCY_BUCKETS, registry=where,
        )  # fmt: skip
        self.overhead = Histogram(
            "switchyard_overhead_seconds", "The gateway's own time: a call's duration less upstream waits.",
            served, buckets=_OVERHEAD_BUCKETS, registry=where,
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
        cache = Counter("switchyard_cache_requests", "Response-cache lookups by result.", ("result",),
                        registry=where)  # fmt: skip
        self._cache_hits = cache.labels("hit")
        self._cache_misses = cache.labels("miss") if cache_enabled else None
        self._cache_errors = Counter(
            "switchyard_cache_errors", "Response-cache backend calls that failed (a miss, or a lost store).",
            ("kind",), registry=where,
        )  # fmt: skip
        guardrail = ("guardrail", "mode", "decision")
        self._guardrail_decisions = Counter(
            "switchyard_guardrail_decisions", "What each guardrail decided, per call.", guardrail,
            registry=where,
        )  # fmt: skip
        self._guardrail_duration = Histogram(
            "switchyard_guardrail_duration_seconds", "Time each guardrail took on a call.",
            ("guardrail", "mode"), buckets=_OVERHEAD_BUCKETS, registry=where,
        )  # fmt: skip
        self._guardrail_series: dict[tuple[str, GuardrailMode, Decision], tuple[Any, Any]] = {}
        """The series of each guardrail, mode and decision seen (names come from the config: bounded)."""
        self.in_flight = Gauge(
            "switchyard_in_flight_requests", "Calls being answered (streams until their end).",
            multiprocess_mode="livesum", registry=where,
        )  # fmt: skip
        if not self._multiprocess:
            _unlock(self.in_flight)
        self._series: dict[tuple[str, str, str, str], _Series] = {}

    def call_ended(self, record: SpendRecord) -> None:
        group = record.model_group if record.model_group in self._groups else OTHER
        provider = record.provider or "none"
        key = (group, provider, record.call_type, str(record.status_code or 0))
        series = self._series.get(key)
        if series is None:  # `labels()` takes a lock and builds a key each time: look each up once
            series = self._series[key] = _Series(self, key, unlocked=not self._multiprocess)
        series.requests.inc()
        latency = (record.ended_at - record.started_at).total_seconds()
        observe = series.observe
        observe(series.duration, latency)
        if record.upstream_seconds is not None:
            observe(series.upstream, record.upstream_seconds)
            observe(series.overhead, max(latency - record.upstream_seconds, 0.0))
        if record.time_to_first_token is not None:
            observe(series.first_token, record.time_to_first_token)
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
        for run in record.guardrails:
            decided = self._guardrail_series.get((run.name, run.mode, run.decision))
            if decided is None:
                decided = self._guardrail_series[(run.name, run.mode, run.decision)] = (
                    self._guardrail_decisions.labels(run.name, run.mode.value, run.decision.value),
                    self._guardrail_duration.labels(run.name, run.mode.value),
                )
            decided[0].inc()
            decided[1].observe(run.duration)
        if record.cache_hit:
            self._cache_hits.inc()
        elif (
            self._cache_misses is not None
            and record.status is CallStatus.SUCCESS
            and record.call_type in CACHEABLE
        ):
            self._cache_misses.inc()

    def cache_error(self, kind: str) -> None:
        """A response-cache backend call that failed (`failure`), ran out of time (`timeout`), or was
        not tried during an outage (`skipped`)."""
        self._cache_errors.labels(kind).inc()

    def sampled_by(self, sample: Callable[[], Awaitable[None]]) -> None:
        """`sample` refreshes gauges of this worker's state, at each scrape and in `sample`."""
        self._samplers.append(sample)

    async def sample(self) -> None:
        """Runs every sampler; raises the first failure once all have run."""
        failure: Exception | None = None
        for sample in self._samplers:
            try:
                await sample()
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    async def scrape(self) -> bytes:
        # A sampler's failure (Redis away) is the sampling loop's to log; the scrape shows the last values.
        with contextlib.suppress(Exception):
            await self.sample()
        return self.render()

    def render(self) -> bytes:
        if not self._multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


class _Series:
    """The labelled children one (model group, provider, route, status) updates."""

    __slots__ = (
        "duration",
        "fallbacks",
        "first_token",
        "observe",
        "overhead",
        "requests",
        "retries",
        "spend",
        "tokens",
        "upstream",
    )

    def __init__(self, metrics: PrometheusMetrics, key: tuple[str, str, str, str], *, unlocked: bool) -> None:
        group, provider = key[0], key[1]
        self.requests = metrics.requests.labels(*key)
        self.duration = metrics.duration.labels(*key)
        self.upstream = metrics.upstream.labels(*key[:3])
        self.overhead = metrics.overhead.labels(*key[:3])
        self.first_token = metrics.first_token.labels(group, provider)
        self.tokens = tuple(metrics.tokens.labels(group, provider, kind) for kind in _TOKEN_TYPES)
        self.spend = metrics.spend.labels(group, provider)
        self.retries = metrics.retries.labels(group)
        self.fallbacks = metrics.fallbacks.labels(group)
        self.observe: Callable[[Any, float], None] = _observed
        if unlocked:
            self.observe = _observed_unlocked
            for child in (self.requests, self.duration, self.upstream, self.overhead, self.first_token,
                          *self.tokens, self.spend, self.retries, self.fallbacks):  # fmt: skip
                _unlock(child)


class _UnlockedValue(MutexValue):
    """prometheus-client's value of one series, moved without its lock. Its lock is there for threads
    that move a value at once; a process's own registry (one worker) has these moved by the event loop's
    thread alone (the calls' records and the HTTP edge's gauge), so each `+=` runs whole, and a scrape
    on another thread reads a float either before or after it. A lock per increment (a dozen a call) and
    a pass over the bounds per observation were a third of a call's metrics (6.5 against 4.2 us)."""

    def inc(self, amount: float) -> None:
        self._value += amount


def _unlock(metric: Any) -> None:
    """Swaps the values of one labelled child (a counter's or gauge's value, a histogram's sum and
    buckets) for unlocked ones holding the same figures; multiprocess values (files) are left alone."""
    for name in ("_value", "_sum"):
        value = getattr(metric, name, None)
        if type(value) is MutexValue:
            setattr(metric, name, _unlocked(value))
    buckets = getattr(metric, "_buckets", None)
    if buckets:
        buckets[:] = [_unlocked(value) if type(value) is MutexValue else value for value in buckets]


def _unlocked(value: MutexValue) -> MutexValue:
    unlocked = _UnlockedValue.__new__(_UnlockedValue)
    unlocked.__dict__.update(value.__dict__)
    return unlocked


def _observed(histogram: Any, amount: float) -> None:
    histogram.observe(amount)


def _observed_unlocked(histogram: Any, amount: float) -> None:
    """`Histogram.observe` of a labelled child whose values are unlocked: its sum, and the first bucket
    whose bound is at or above `amount` found by bisection instead of a pass over the bounds (none for
    a NaN, as there)."""
    histogram._sum.inc(amount)
    if amount == amount:
        histogram._buckets[bisect_left(histogram._upper_bounds, amount)].inc(1)


def _forget_dead_workers(directory: str) -> None:
    """Drops the live gauges (`livesum`, `livemax`, ...) of worker processes that died (a crashed worker
    that uvicorn replaced): what was in flight in a dead worker is not in flight any more."""
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        for name in os.listdir(directory):
            found = _LIVE_GAUGE_FILE.fullmatch(name)
            if found is not None and not _alive(int(found.group(1))):
                multiprocess.mark_process_dead(int(found.group(1)), directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
