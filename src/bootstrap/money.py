"""The resources of the money path the composition root opens: the price catalog, the spend journals, the
ledger and the budget counters, and the background loops that keep them moving."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from adapters.cache.memory_budget_reservations import InMemoryBudgetReservations
from adapters.config.loader import GatewayConfig
from adapters.persistence.deferred import DeferredSpendLedger, DeferredStore
from adapters.persistence.location import sqlite_file
from application.pricing import Pricing
from application.spend import SpendWriter
from bootstrap.resources import MEMORY_DATABASE, database_url, redis_prefix
from domain.budgets import BudgetLine
from domain.deployments import Deployment
from ports.budget_reservations import BudgetReservations
from ports.price_catalog import PriceCatalog
from ports.spend_journal import SpendJournal
from ports.spend_ledger import SpendLedger
from ports.unit_of_work import StoreUnavailable

INSTANCE_ID_ENV = "SWITCHYARD_INSTANCE_ID"
"""Names this process in the ledger's shard rows and as a reader of a shared journal (default: host and
process id)."""
JOURNAL_DIR = "switchyard-journal"

_spend_log = structlog.get_logger("switchyard.spend")
_prices_log = structlog.get_logger("switchyard.prices")


def instance_id(environ: Mapping[str, str]) -> str:
    return environ.get(INSTANCE_ID_ENV) or f"{socket.gethostname()}-{os.getpid()}"


def make_price_catalog() -> PriceCatalog:
    from adapters.prices.genai_prices import GenaiPricesCatalog

    return GenaiPricesCatalog()


def journal_directory(config: GatewayConfig) -> Path:
    """general_settings.spend_journal_dir, else beside the SQLite database file, else in the config's
    folder (or the working directory)."""
    if config.spend_journal_dir is not None:
        return config.spend_journal_dir
    path = sqlite_file(database_url(config))  # without SQLAlchemy: it loads after the server answers
    if path is not None:
        return path.parent / JOURNAL_DIR
    base = config.config_path.resolve().parent if config.config_path else Path.cwd()
    return base / JOURNAL_DIR


async def open_journals(
    config: GatewayConfig, redis: Any, environ: Mapping[str, str]
) -> AsyncIterator[tuple[SpendJournal, SpendJournal | None]]:
    """The journal spend records wait in, and the local one they fall back to: a Redis stream any
    instance drains when Redis is configured (with this machine's file behind it), else the file alone
    (in memory for a gateway without a database)."""
    if database_url(config) == MEMORY_DATABASE and redis is None:
        from adapters.journal.memory_journal import InMemorySpendJournal

        journal = InMemorySpendJournal()
        yield journal, None
        await journal.close()
        return
    from adapters.journal.file_journal import FileSpendJournal

    local = FileSpendJournal(journal_directory(config))
    try:
        if redis is None:
            yield local, None
            return
        from adapters.journal.redis_journal import RedisSpendJournal

        shared = RedisSpendJournal(redis, redis_prefix(environ) + "spend-journal", instance_id(environ))
        try:
            yield shared, local
        finally:
            await shared.close()
    finally:
        await local.close()


def make_spend_ledger(store: DeferredStore, environ: Mapping[str, str]) -> SpendLedger:
    return DeferredSpendLedger(store, instance_id(environ))


def make_budget_reservations(redis: Any, environ: Mapping[str, str]) -> BudgetReservations:
    """Budget counters: in this process, or in Redis, shared by the fleet (this process's own while
    Redis cannot be reached)."""
    local = InMemoryBudgetReservations()
    if redis is None:
        return local
    from adapters.cache.redis_budget_reservations import RedisBudgetReservations
    from adapters.cache.resilient_budget_reservations import ResilientBudgetReservations

    shared = RedisBudgetReservations(redis, redis_prefix(environ) + "budgets:")
    return ResilientBudgetReservations(shared, local)


def soft_budget_alert(line: BudgetLine, spent: Decimal) -> None:
    _spend_log.warning("soft budget reached", budget=line.label, soft_budget=str(line.soft), spend=str(spent))


async def load_prices(pricing: Pricing, deployments: Iterable[Deployment]) -> None:
    """Asks the catalog for every configured model at start; names, once, the models no price is known
    for (their calls cost null; they are never refused for it)."""
    unpriced = await pricing.load(deployments)
    if unpriced:
        _prices_log.warning(
            "no price known; these models' calls are recorded with cost null",
            models=sorted({f"{d.model_name} ({d.provider}/{d.upstream_model})" for d in unpriced}),
        )


IDLE_POLL = 0.2
"""Seconds between looks at an empty journal."""
OUTAGE_RETRY = 2.0
"""Seconds between attempts to write while the database is unreachable."""


async def run_spend_writer(writer: SpendWriter, sleep: Callable[[float], Any] = asyncio.sleep) -> None:
    """Until cancelled: drains the journals into the ledger. A database outage is logged once and
    waited out (records stay in the journal); other failures are logged and retried."""
    unavailable = False
    while True:
        try:
            done = await writer.drain()
        except StoreUnavailable:
            if not unavailable:
                _spend_log.warning("database unreachable; spend records wait in the journal")
            unavailable = True
            await sleep(OUTAGE_RETRY)
            continue
        except Exception:
            _spend_log.exception("writing spend records failed; retrying")
            await sleep(OUTAGE_RETRY)
            continue
        if unavailable:
            _spend_log.info("database reachable again; writing the spend records that waited")
            unavailable = False
        # Between batches the loop serves calls; a short journal waits a moment to fill a batch.
        await sleep(IDLE_POLL if done.taken < writer.batch_size else 0)


async def final_drain(writer: SpendWriter, timeout: float = 5.0) -> None:
    """At shutdown: what the journals hold is written if the database allows within `timeout`; the rest
    stays in the journal for the next start."""
    try:
        await asyncio.wait_for(writer.drain_all(), timeout)
    except (TimeoutError, StoreUnavailable):
        _spend_log.warning("spend records left in the journal for the next start")
    except Exception:
        _spend_log.exception("writing spend records at shutdown failed; they stay in the journal")
