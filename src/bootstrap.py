"""The composition root: one dependency-injector container, built from the parsed config, that picks
each port's adapter and starts and stops the resources (upstream HTTP clients)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import importlib
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import structlog
from dependency_injector import containers, providers
from litestar import Litestar
from litestar.di import Provide

from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.cache.redis_router_state import RedisRouterState
from adapters.cache.resilient_router_state import ResilientRouterState
from adapters.clock import SystemClock
from adapters.config.loader import GatewayConfig
from adapters.http.app import create_app
from adapters.llm.aiohttp_transport import AiohttpTransport
from adapters.llm.hosts import HOSTS
from adapters.llm.mock.client import MockProvider
from adapters.llm.upstream_client import UpstreamClient
from adapters.telemetry import NoopTelemetry
from adapters.tokens.tiktoken_counter import TiktokenTokenCounter
from application.catalog import ModelCatalog
from application.completions import Completions
from application.health import BackgroundHealthChecks, DeploymentStates, HealthCheck
from application.routing import Router
from domain.deployments import Deployment
from ports.llm_provider import LLMProvider
from ports.router_state import RouterState

T = TypeVar("T")
_log = structlog.get_logger("switchyard.health")

# Provider prefix -> the adapter that speaks its wire format ("module:class"). Adapters are imported when
# a configured deployment needs one, so start-up pays only for the providers in the config. Adding a
# provider family is a row here; an OpenAI-compatible host is a row of the hosts table.
_OPENAI = "adapters.llm.openai.client:OpenAIProvider"
ADAPTERS: dict[str, str] = {
    **{name: _OPENAI for name, host in HOSTS.items() if host.openai_compatible},
    "azure": "adapters.llm.azure.client:AzureOpenAIProvider",
    "azure_ai": "adapters.llm.azure.client:AzureAIProvider",
    "cohere": "adapters.llm.cohere.client:CohereProvider",
    "ollama": "adapters.llm.ollama.client:OllamaProvider",
    "ollama_chat": "adapters.llm.ollama.client:OllamaProvider",
    "anthropic": "adapters.llm.anthropic.client:AnthropicProvider",
    "bedrock": "adapters.llm.bedrock.client:BedrockProvider",
    "gemini": "adapters.llm.gemini.client:GeminiProvider",
    "vertex_ai": "adapters.llm.gemini.client:VertexProvider",
}


@functools.cache
def adapter_for(provider: str) -> type[LLMProvider] | None:
    """The adapter class serving `provider`, imported on first use; None for a provider without one."""
    if provider == "mock":
        return MockProvider
    target = ADAPTERS.get(provider)
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def upstream_key(deployment: Deployment) -> tuple[type[LLMProvider], str]:
    """Deployments that share an adapter and a base URL share one pooled client and one adapter."""
    adapter = adapter_for(deployment.provider)
    assert adapter is not None, deployment.provider
    return adapter, (deployment.api_base or "").rstrip("/")


def served_deployments(deployments: Iterable[Deployment]) -> tuple[Deployment, ...]:
    """The configured deployments, each one's capabilities limited to what its adapter can carry, so that
    the catalog shows and the application enforces what will really work."""
    served = []
    for deployment in deployments:
        adapter = adapter_for(deployment.provider)
        if adapter is not None:
            capabilities = deployment.capabilities.limited_to(adapter.capabilities())
            deployment = dataclasses.replace(deployment, capabilities=capabilities)
        served.append(deployment)
    return tuple(served)


def new_upstream_client() -> httpx.AsyncClient:
    # Timeouts are set per call from each deployment's limits; the pool stays warm between calls.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256, keepalive_expiry=30.0)
    return UpstreamClient(
        transport=AiohttpTransport(limits),
        timeout=httpx.Timeout(600.0, connect=10.0),
        follow_redirects=False,
    )


async def open_upstream_clients(
    deployments: Iterable[Deployment],
    client_factory: Callable[[], httpx.AsyncClient] = new_upstream_client,
) -> AsyncIterator[dict[tuple[type[LLMProvider], str], httpx.AsyncClient]]:
    clients = {upstream_key(d): client_factory() for d in deployments if d.provider in ADAPTERS}
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


def wire_providers(
    deployments: Iterable[Deployment],
    clients: Mapping[tuple[type[LLMProvider], str], httpx.AsyncClient],
    mock: LLMProvider,
) -> dict[str, LLMProvider]:
    """One provider adapter per upstream; the mapping is keyed by deployment id."""
    by_upstream: dict[tuple[type[LLMProvider], str], LLMProvider] = {}
    wired: dict[str, LLMProvider] = {}
    for deployment in deployments:
        if deployment.provider == "mock":
            wired[deployment.id] = mock
        elif deployment.provider in ADAPTERS:
            key = upstream_key(deployment)
            if key not in by_upstream:
                by_upstream[key] = key[0](clients[key])
            wired[deployment.id] = by_upstream[key]
    return wired


REDIS_PREFIX_ENV = "SWITCHYARD_REDIS_PREFIX"
"""Keeps several fleets sharing one Redis apart (default `switchyard:`)."""


async def open_router_state(redis_url: str | None, environ: Mapping[str, str]) -> AsyncIterator[RouterState]:
    """The router's state: in this process, or with a Redis URL shared by every instance using it (and
    this process's own while Redis cannot be reached)."""
    local = InMemoryRouterState()
    if not redis_url:
        yield local
        return
    from redis.asyncio import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No client-side retries: a retried script could count a call twice, and an unreachable Redis must
    # cost a call one short timeout, not a backoff series.
    client = Redis.from_url(
        redis_url,
        socket_connect_timeout=0.25,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
    prefix = environ.get(REDIS_PREFIX_ENV, "switchyard:") + "router:"
    try:
        yield ResilientRouterState(RedisRouterState(client, prefix), local)
    finally:
        await client.aclose()


class Container(containers.DeclarativeContainer):
    config = providers.Dependency(instance_of=GatewayConfig)
    deployments = providers.Singleton(lambda config: served_deployments(config.deployments), config)

    clock = providers.Singleton(SystemClock)
    telemetry = providers.Singleton(NoopTelemetry)
    token_counter = providers.Singleton(TiktokenTokenCounter)
    upstream_client_factory = providers.Object(new_upstream_client)
    upstream_clients = providers.Resource(
        open_upstream_clients, deployments=deployments, client_factory=upstream_client_factory
    )
    mock_provider = providers.Singleton(MockProvider, token_counter=token_counter)
    llm_providers = providers.Singleton(
        wire_providers, deployments=deployments, clients=upstream_clients, mock=mock_provider
    )
    catalog = providers.Singleton(
        ModelCatalog, deployments=deployments, created=providers.Callable(lambda: int(time.time()))
    )
    router_state = providers.Resource(
        open_router_state,
        redis_url=providers.Callable(lambda config: config.redis_url, config),
        environ=providers.Callable(lambda config: config.environment, config),
    )
    router = providers.Singleton(
        Router,
        state=router_state,
        policy=providers.Callable(lambda config: config.router_policy, config),
        clock=clock,
        token_counter=token_counter,
    )
    completions = providers.Singleton(
        Completions,
        catalog=catalog,
        providers=llm_providers,
        mock=mock_provider,
        router=router,
        clock=clock,
        telemetry=telemetry,
    )
    health_check = providers.Singleton(
        HealthCheck, catalog=catalog, providers=llm_providers, mock=mock_provider, clock=clock
    )
    background_health_checks = providers.Singleton(
        BackgroundHealthChecks,
        checks=health_check,
        state=router_state,
        policy=providers.Callable(lambda config: config.router_policy, config),
        clock=clock,
    )
    deployment_states = providers.Singleton(
        DeploymentStates, catalog=catalog, state=router_state, clock=clock
    )


def build_container(config: GatewayConfig) -> Container:
    return Container(config=config)


async def resolve(provider: providers.Provider[T]) -> T:
    """The provider's object; those depending on an async resource hand back an awaitable first."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


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


_SERVICES = ("completions", "catalog", "router_state", "health_check", "deployment_states")


def create_http_app(container: Container) -> Litestar:
    """The gateway server: the Litestar app over the container, resources tied to its lifespan."""
    config: GatewayConfig = container.config()

    services: dict[str, Any] = {}

    @asynccontextmanager
    async def resources(_: Litestar) -> AsyncIterator[None]:
        await container.init_resources()
        background: asyncio.Task[None] | None = None
        try:
            for name in _SERVICES:
                services[name] = await resolve(getattr(container, name))
            if config.background_health_checks:
                checks = await resolve(container.background_health_checks)
                background = asyncio.create_task(
                    run_background_health_checks(checks, config.health_check_interval)
                )
            yield
        finally:
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            await container.shutdown_resources()

    def bridge(name: str) -> Provide:
        return Provide(lambda: services[name], use_cache=True, sync_to_thread=False)

    return create_app(
        dependencies={name: bridge(name) for name in _SERVICES},
        master_key=config.master_key.value if config.master_key else None,
        max_body_bytes=config.max_request_body_bytes,
        lifespan=[resources],
    )
