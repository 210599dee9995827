"""Config values from a secret manager: read before the config is resolved, and read again every refresh
interval, the served deployments rebuilt when one changed (a rotated provider key) without a restart."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import ChainMap
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import structlog

from adapters.config.loader import ConfigSource, GatewayConfig, Source, load_config, read_source
from adapters.config.secrets import SecretPlan, secret_plan
from application.models import ModelRegistry
from domain.deployments import Deployment, DeploymentRecord

T = TypeVar("T")
_log = structlog.get_logger("switchyard.secrets")


def load_gateway_config(source: Source, environ: Mapping[str, str]) -> GatewayConfig:
    """load_config, with every `os.environ/NAME` the config's secret manager answers read from it first
    (concurrently). Without a key_management_system nothing more is read or imported."""
    read = read_source(source)
    plan = secret_plan(read.tree, environ) if read is not None else None
    if plan is None or not plan.references:
        return load_config(read, environ)
    values = _run(_read_secrets(plan, environ))
    return load_config(read, ChainMap(values, dict(environ)))


async def run_secret_refresh(
    config: GatewayConfig,
    models: ModelRegistry,
    parser: Callable[[GatewayConfig], Callable[[DeploymentRecord], Deployment]],
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> None:
    """Until cancelled: every refresh interval, reads the config's secrets again; when one changed, the
    config is resolved again and its deployments (and the stored ones, `parser` made for the new
    config) served in place of the old."""
    from adapters.secrets import open_secret_store
    from adapters.secrets.values import SecretValues

    plan = config.secret_store
    assert plan is not None
    environ = config.environment
    known = {name: environ[name] for name in plan.references if name in environ}
    store = open_secret_store(plan.system, plan.settings, environ)
    values = SecretValues(store, plan.references, environ, known)
    try:
        while True:
            await sleep(plan.refresh_interval)
            try:
                if await values.refresh():
                    fresh = load_config(
                        ConfigSource(plan.tree, config.config_path), ChainMap(values.values, environ)
                    )
                    models.reconfigure(fresh.deployments, parser(fresh))
            except Exception:  # a rotated value the config rejects: the deployments keep the last good one
                _log.exception("applying refreshed secrets failed", store=plan.system)
    finally:
        await store.aclose()


async def _read_secrets(plan: SecretPlan, environ: Mapping[str, str]) -> dict[str, str]:
    from adapters.secrets import open_secret_store
    from adapters.secrets.values import SecretValues

    store = open_secret_store(plan.system, plan.settings, environ)
    try:
        return await SecretValues(store, plan.references, environ).load()
    finally:
        await store.aclose()


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Runs `work` to its end on an event loop of its own thread: the config is loaded both before any
    loop runs (`serve`) and inside one (uvicorn's worker factory)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="switchyard-secrets") as pool:
        return pool.submit(asyncio.run, work).result()
