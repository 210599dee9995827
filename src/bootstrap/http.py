"""The HTTP side of the composition root: the Litestar app over the container, its resources tied to the
app's lifespan (imported only by the server: the library never loads Litestar)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from litestar import Litestar
from litestar.di import Provide

from adapters.config.loader import GatewayConfig
from adapters.http.app import Gateway, create_app
from adapters.http.exchange import Inference
from bootstrap import Container, _master_key, close_observers, record_parser, resolve
from bootstrap.loops import run_background_health_checks, run_metric_sampling, run_response_purge, run_store
from bootstrap.money import final_drain, load_prices, run_spend_writer
from bootstrap.passthrough import report_open_routes
from bootstrap.resources import salt_key
from bootstrap.secrets import run_secret_refresh
from bootstrap.tracing import server_span_middleware

GC_THRESHOLDS = (5_000, 20, 20)
"""The collector's thresholds once the server runs: the youngest generation is collected every 5,000 net
allocations instead of 700 (what a call leaves for the collector is rare and small). Measured on the bench
at concurrency 32: chat 0.93-1.06 -> 0.79-0.80 ms of CPU a call, a 20-chunk stream 1.50-1.64 -> 1.30 ms,
memory after load unchanged (20,000 saved no more CPU and held 5 MB more)."""

if TYPE_CHECKING:
    from adapters.http.ui.session import SessionSigner
    from adapters.http.ui.sso_settings import SsoSettings
    from adapters.persistence.deferred import DeferredStore


def _console_sessions(config: GatewayConfig) -> SessionSigner | None:
    """The admin console's session signer; None when `ui: false` (then none of the console is loaded)."""
    if not config.ui:
        return None
    from adapters.http.ui.session import SessionSigner

    return SessionSigner.from_secrets(salt_key(config), _master_key(config))


def _console_sso(config: GatewayConfig) -> SsoSettings | None:
    """The console's single sign-on (LiteLLM's GENERIC_* variables); None when off or not configured."""
    if not config.ui:
        return None
    from adapters.http.ui.sso_settings import SsoSettings

    return SsoSettings.from_environment(config.environment)


_SERVICES = (
    "completions",
    "guardrails",
    "catalog",
    "router_state",
    "health_check",
    "deployment_states",
    "gatekeeper",
    "management",
    "models",
    "store",
    "token_counting",
    "pricing",
    "spend_ledger",
    "spend_writer",
    "budget_guard",
    "spend",
    "responses",
    "metrics",
    "key_metrics",
    "tracing",
    "passthrough",
)


_ON_FIRST_USE = frozenset({"management", "spend"})
"""Of `_SERVICES`, those only routes registered after the start use (see `adapters.http.app.Gateway`):
resolved, and their modules imported, on the first request that asks for them rather than by the start."""


async def _stopped(task: asyncio.Task[None]) -> None:
    """`task` cancelled until it has ended. Once is not always enough: a cancellation that races a result
    can be lost on its way down (asyncio.wait_for's, on Python 3.11), and a background loop that lost
    one would keep the server from ever stopping."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError):
        await task


SETTLED_AFTER_OPEN = 1.0
"""Seconds after the database opened by which what a start leaves for later (the stored deployments and
keys read once it is open) has loaded."""


async def _frozen_once_settled(store: DeferredStore) -> None:
    """Once the database is open and what it serves has loaded, what the start left for later (SQLAlchemy,
    the schema, the stored deployments: ~30,000 objects on the bench config) joins what the start itself
    loaded out of the collector's sight. A full collection walked all of it each time it ran: 10-11.5 ms
    with the event loop held, against 0.7 ms once frozen (a served gateway after load, measured). Once:
    whatever cyclic garbage exists at that moment is never collected (a few in-flight calls' worth)."""
    await store.opened()
    await asyncio.sleep(SETTLED_AFTER_OPEN)
    gc.freeze()


def _after_start(app: Litestar) -> Callable[[Callable[[], Awaitable[None]]], asyncio.Task[None]]:
    """Starts background work as a task that begins once `app` has been asked its first request (see
    `Gateway.asked`): what a start leaves for later then does not share the CPU with the start itself.
    Begun before it, the SQLAlchemy import thread took the GIL from the start's last steps and the price
    lookup's child process (~0.2 s of CPU) ran beside them, on the same core when the server is pinned
    to one: the start to healthy of the 50-deployment config went 0.685 -> 0.645 s of CPU (with the
    provider wire models' deferred build) and the bench config's 0.635 -> 0.610 s."""
    asked = app.asked if isinstance(app, Gateway) else None

    async def later(work: Callable[[], Awaitable[None]]) -> None:
        if asked is not None:
            await asked()
        await work()

    return lambda work: asyncio.create_task(later(work))


def create_http_app(container: Container) -> Gateway:
    """The gateway server: the Litestar app over the container, resources tied to its lifespan."""
    config: GatewayConfig = container.config()

    services: dict[str, Any] = {}

    @asynccontextmanager
    async def resources(app: Litestar) -> AsyncIterator[None]:
        await container.init_resources()
        tasks: list[asyncio.Task[None]] = []
        try:
            for name in _SERVICES:
                if name not in _ON_FIRST_USE:
                    services[name] = await resolve(getattr(container, name))
            identities = await resolve(container.identities)
            # In the background, once the server is asked its first request: a start never waits for
            # the database driver, the connection or the schema check (readiness says when it is done;
            # calls needing the database wait for it), nor shares its CPU with them and the price lookup.
            after_start = _after_start(app)
            tasks.append(after_start(lambda: run_store(services["store"], identities, services["models"])))
            tasks.append(after_start(lambda: run_spend_writer(services["spend_writer"])))
            tasks.append(after_start(lambda: load_prices(services["pricing"], container.deployments())))
            tasks.append(after_start(lambda: run_response_purge(services["responses"])))
            tasks.append(after_start(lambda: _frozen_once_settled(services["store"])))
            if services["metrics"] is not None:
                tasks.append(asyncio.create_task(run_metric_sampling(services["metrics"])))
            if config.secret_store is not None:
                refresh = run_secret_refresh(config, services["models"], record_parser)
                tasks.append(asyncio.create_task(refresh))
            if config.background_health_checks:
                checks = await resolve(container.background_health_checks)
                tasks.append(
                    asyncio.create_task(run_background_health_checks(checks, config.health_check_interval))
                )
            # Everything loaded so far lives as long as the process: out of the collector's sight, a full
            # collection walks only what requests allocate, not the tens of MB of imported modules. Frozen
            # without a sweep first: the start leaves some 1,200 objects in cycles (300 KB, mostly the
            # classes `dataclass(slots=True)` replaces), and sweeping them cost 55-80 ms of the start.
            gc.freeze()
            # A call allocates a few thousand objects that their references free at once; at the default
            # threshold (700) the collector runs every few calls under load to find almost no cycles.
            gc.set_threshold(*GC_THRESHOLDS)
            yield
        finally:
            for task in tasks:
                await _stopped(task)
            if "responses" in services:
                await services["responses"].drain()
            if "gatekeeper" in services:
                await services["gatekeeper"].drain()
            if "completions" in services:  # its metering (and so the observers) came up
                await close_observers(container)
            if "spend_writer" in services and services["store"].store is not None:
                # Written now if the database allows; a server stopped before its database opened (it
                # opens in the background) leaves them in the journal for its next start at once.
                await final_drain(services["spend_writer"])
            await container.shutdown_resources()

    def bridge(name: str) -> Provide:
        return Provide(lambda: services[name], use_cache=True, sync_to_thread=False)

    def on_first_use(name: str) -> Provide:
        async def service() -> Any:
            if name not in services:
                services[name] = await resolve(getattr(container, name))
            return services[name]

        return Provide(service, use_cache=True)

    def inference() -> Inference:
        metrics = services["metrics"]
        return Inference(
            services["completions"],
            services["gatekeeper"],
            services["token_counting"],
            services["responses"],
            in_flight=metrics.in_flight if metrics is not None else None,
            key_metrics=services["key_metrics"],
            max_audio_upload_bytes=config.max_audio_upload_bytes,
        )

    report_open_routes(config.passthrough_routes)
    sso = _console_sso(config)
    return create_app(
        dependencies={
            **{name: on_first_use(name) if name in _ON_FIRST_USE else bridge(name) for name in _SERVICES},
            "inference": Provide(inference, use_cache=True, sync_to_thread=False),
            "sso": Provide(lambda: sso, use_cache=True, sync_to_thread=False),
        },
        gatekeeper=(lambda: services["gatekeeper"]) if config.master_key else None,
        max_body_bytes=config.max_request_body_bytes,
        lifespan=[resources],
        public_metrics=config.public_metrics,
        metrics=config.metrics,
        docs=config.docs,
        middleware=server_span_middleware(config, lambda: services["tracing"]),
        passthrough_routes=config.passthrough_routes,
        console=_console_sessions(config),
    )
