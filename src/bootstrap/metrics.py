"""The Prometheus metrics' wiring: the call counters, the opt-in per-key series and the sampled state
gauges; nothing at all with `general_settings.metrics: false`."""

from __future__ import annotations

import functools

from adapters.config.loader import GatewayConfig
from adapters.observability.gauges import SpanCounters, SpanCounts, StateGauges
from adapters.observability.key_metrics import KeyMetrics
from adapters.observability.metrics import PrometheusMetrics
from application.budgets import BudgetGuard
from application.health import DeploymentStates
from application.metering import Metering
from application.spend import SpendWriter
from ports.call_observer import CallObserver
from ports.clock import Clock


def make_metrics(config: GatewayConfig) -> PrometheusMetrics | None:
    if not config.metrics:
        return None
    # With a response cache, each cacheable call is a lookup: a hit, or a miss.
    return PrometheusMetrics(
        groups={d.model_name for d in config.deployments}, cache_enabled=config.cache is not None
    )


def make_key_metrics(
    config: GatewayConfig, metrics: PrometheusMetrics | None, clock: Clock
) -> KeyMetrics | None:
    if metrics is None or not config.key_metrics:
        return None
    return KeyMetrics(metrics, now=clock.now)


def metric_observers(metrics: PrometheusMetrics | None, keys: KeyMetrics | None) -> tuple[CallObserver, ...]:
    return tuple(observer for observer in (metrics, keys) if observer is not None)


def sampled_metrics(
    metrics: PrometheusMetrics | None,
    keys: KeyMetrics | None,
    states: DeploymentStates,
    writer: SpendWriter,
    metering: Metering,
    budgets: BudgetGuard,
    tracing: SpanCounts | None = None,
) -> PrometheusMetrics | None:
    """The metrics with their state gauges' samplers (and the span counts, when tracing) in place: run at
    each scrape, and by the server's sampling loop."""
    if metrics is None:
        return None
    gauges = StateGauges(metrics, states=states, writer=writer, observers=metering.observers)
    metrics.sampled_by(gauges.sample)
    if keys is not None:
        metrics.sampled_by(functools.partial(keys.sample, budgets))
    if tracing is not None:
        metrics.sampled_by(SpanCounters(metrics, tracing).sample)
    return metrics
