"""The loops the server runs beside its requests: background health checks, the database's opening and
change polling, the purge of expired stored responses, and the sampling of the metrics' gauges."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from adapters.observability.metrics import PrometheusMetrics
from adapters.persistence.deferred import DeferredStore
from application.health import BackgroundHealthChecks
from application.identity_cache import IdentityCache
from application.models import ModelRegistry
from application.responses import Responses
from ports.unit_of_work import StoreUnavailable

_log = structlog.get_logger("switchyard.health")
_changes_log = structlog.get_logger("switchyard.changes")
_metrics_log = structlog.get_logger("switchyard.metrics")


async def run_background_health_checks(
    checks: BackgroundHealthChecks,
    interval: float,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """Sweeps at once, then every `interval` seconds, until cancelled; a failed sweep is logged and the
    next one runs on time."""
    while True:
        try:
            report = await checks.sweep()
        except Exception:
            _log.exception("background health check failed")
        else:
            if report.unhealthy:
                unhealthy = {entry.deployment.id: entry.error for entry in report.unhealthy}
                _log.warning("background health check: deployments unhealthy", deployments=unhealthy)
        await sleep(interval)


CHANGE_POLL_INTERVAL = 1.0
"""Seconds between reads of the database's change stamps: how soon a change made on another instance
(a key blocked, a model added) takes effect here."""


async def run_store(
    store: DeferredStore,
    identities: IdentityCache,
    models: ModelRegistry,
    interval: float = CHANGE_POLL_INTERVAL,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """Until cancelled: opens the database, serves its stored deployments, then every `interval` seconds
    drops cached keys, teams and users when another instance changed any and reloads the stored
    deployments when they changed. A database outage is waited out (cached keys keep working)."""
    try:
        await store.open()
    except Exception:
        return  # logged by the store; readiness says so, and calls needing the database fail at once
    unavailable = False
    first = True
    reported: dict[str, str] = {}
    while True:
        try:
            if first:
                await models.load()
                await identities.poll()
                first = False
            else:
                # One read of the stamps tells both caches whether another instance changed anything.
                async with store.unit_of_work() as uow:
                    stamps = await uow.stamps()
                await identities.poll(stamps)
                await models.poll(stamps)
            _report_broken(models.broken, reported)
        except StoreUnavailable:
            if not unavailable:
                _changes_log.warning("database unreachable; serving cached keys until it is back")
            unavailable = True
        except Exception:
            _changes_log.exception("reading changes failed")
        else:
            if unavailable:
                _changes_log.info("database reachable again")
            unavailable = False
        await sleep(interval)


def _report_broken(broken: Mapping[str, str], reported: dict[str, str]) -> None:
    """Logs each stored model that cannot be served (credentials under another salt key, an environment
    variable gone, ...) once per reason: readiness lists them, but an operator reads the log first."""
    for model_id, why in broken.items():
        if reported.get(model_id) != why:
            _changes_log.error("stored model not served", model_id=model_id, reason=why)
    reported.clear()
    reported.update(broken)


RESPONSE_PURGE_INTERVAL = 3600.0


async def run_response_purge(
    responses: Responses,
    interval: float = RESPONSE_PURGE_INTERVAL,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """Every `interval` seconds (the first a minute after start), deletes stored responses past their
    retention; a purge that fails (the database away) is tried again next time."""
    await sleep(min(interval, 60.0))
    while True:
        try:
            await responses.purge()
        except StoreUnavailable:
            pass
        except Exception:
            _changes_log.exception("purging expired responses failed")
        await sleep(interval)


METRICS_SAMPLE_INTERVAL = 2.0
"""Seconds between readings of the gauges of state (deployments cooling down, the ledger's backlog, the
callbacks' queues) in each worker: how stale a scrape answered by another worker may find them."""


async def run_metric_sampling(
    metrics: PrometheusMetrics,
    interval: float = METRICS_SAMPLE_INTERVAL,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """Until cancelled: samples the metrics' gauges every `interval` seconds. A failure (Redis away) is
    logged once until a sampling succeeds again; the gauges keep their last values meanwhile."""
    failing = False
    while True:
        try:
            await metrics.sample()
        except Exception as exc:
            if not failing:
                _metrics_log.warning("reading the metrics' gauges failed; they keep their last values",
                                     error=repr(exc))  # fmt: skip
            failing = True
        else:
            failing = False
        await sleep(interval)
