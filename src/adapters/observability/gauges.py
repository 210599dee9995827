"""Gauges of the gateway's state rather than of its calls, read in each worker every few seconds and at
each scrape: which deployments are cooling down, how many spend records wait for the ledger, and the
callbacks' queues.

How the workers' readings combine (prometheus-client's multiprocess modes; a dead worker's are dropped):
- `switchyard_deployment_state`: the highest (1 while any worker's router keeps the deployment out; with
  Redis they share one view);
- `switchyard_ledger_backlog`: summed over the workers' own journals, or, with a journal the fleet shares
  (Redis), the highest (each worker reads the same stream, plus its own fallback file);
- `switchyard_callback_queue_length`: summed (each worker has its queues); drops are counted;
- with tracing on, the spans exported and dropped are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from prometheus_client import Counter, Gauge

from adapters.observability.callbacks import QueuedCallback
from adapters.observability.metrics import PrometheusMetrics
from adapters.observability.webhook import WebhookCallback
from application.health import DeploymentStates
from application.spend import SpendWriter
from ports.call_observer import CallObserver


class StateGauges:
    """Samples the state gauges. `sample` tries every gauge and then raises what failed (Redis away,
    say): the gauges it could not read keep their last values."""

    def __init__(
        self,
        metrics: PrometheusMetrics,
        *,
        states: DeploymentStates,
        writer: SpendWriter,
        observers: Sequence[CallObserver],
    ) -> None:
        where = metrics.target
        self._deployment_state = Gauge(
            "switchyard_deployment_state", "0 while a deployment is in rotation, 1 while it cools down.",
            ("deployment",), multiprocess_mode="livemax", registry=where,
        )  # fmt: skip
        self._backlog = Gauge(
            "switchyard_ledger_backlog", "Spend records in the journal not yet written to the database.",
            multiprocess_mode="livemax" if writer.shared else "livesum", registry=where,
        )  # fmt: skip
        queue_length = Gauge(
            "switchyard_callback_queue_length", "Call records waiting for a callback to take them.",
            ("callback",), multiprocess_mode="livesum", registry=where,
        )  # fmt: skip
        dropped = Counter("switchyard_callback_dropped", "Call records a callback's full queue dropped.",
                          ("callback",), registry=where)  # fmt: skip
        self._states = states
        self._writer = writer
        self._queues = [
            (observer, queue_length.labels(observer.name), dropped.labels(observer.name))
            for observer in observers
            if isinstance(observer, QueuedCallback | WebhookCallback)
        ]
        self._dropped = [0] * len(self._queues)
        self._deployments: dict[str, Any] = {}

    async def sample(self) -> None:
        self._sample_queues()
        try:
            await self._sample_deployments()
        finally:
            await self._sample_backlog()

    async def _sample_deployments(self) -> None:
        seen = set()
        for state in await self._states.read():
            id = state.deployment.id
            seen.add(id)
            gauge = self._deployments.get(id)
            if gauge is None:
                gauge = self._deployments[id] = self._deployment_state.labels(id)
            gauge.set(0 if state.healthy else 1)
        for id in self._deployments.keys() - seen:  # removed since: no longer cooling down anywhere
            self._deployments.pop(id).set(0)

    async def _sample_backlog(self) -> None:
        self._backlog.set(await self._writer.backlog())

    def _sample_queues(self) -> None:
        # Two callbacks of one name (a path listed twice) share their series: set their sum.
        lengths: dict[int, tuple[Any, int]] = {}
        for index, (observer, length, dropped) in enumerate(self._queues):
            total = lengths.get(id(length), (length, 0))[1] + observer.backlog
            lengths[id(length)] = (length, total)
            drops = observer.dropped
            if drops > self._dropped[index]:
                dropped.inc(drops - self._dropped[index])
                self._dropped[index] = drops
        for length, total in lengths.values():
            length.set(total)


class SpanCounts(Protocol):
    """What tracing tells of its spans (`adapters.observability.tracing.Tracing`)."""

    @property
    def exported(self) -> int: ...

    @property
    def dropped(self) -> int: ...


class SpanCounters:
    """`switchyard_spans_exported_total` and `switchyard_spans_dropped_total`: the spans the exporters
    delivered, and those lost to a full queue or a failed export (a collector away), per worker and
    summed."""

    def __init__(self, metrics: PrometheusMetrics, tracing: SpanCounts) -> None:
        where = metrics.target
        self._exported = Counter(
            "switchyard_spans_exported", "Spans the exporters delivered.", registry=where
        )
        self._dropped = Counter(
            "switchyard_spans_dropped", "Spans lost: a full export queue, or an export that failed.",
            registry=where,
        )  # fmt: skip
        self._tracing = tracing
        self._seen = (0, 0)

    async def sample(self) -> None:
        exported, dropped = self._tracing.exported, self._tracing.dropped
        if exported > self._seen[0]:
            self._exported.inc(exported - self._seen[0])
        if dropped > self._seen[1]:
            self._dropped.inc(dropped - self._seen[1])
        self._seen = (exported, dropped)
