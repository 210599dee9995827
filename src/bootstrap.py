"""The composition root: one dependency-injector container, built from the parsed config, that picks
each port's adapter and starts and stops the resources (upstream HTTP clients)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import importlib
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import structlog
from dependency_injector import containers, providers
from litestar import Litestar
from litestar.di import Provide

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.cache.resilient_rate_limiter import ResilientRateLimiter
from adapters.cache.resilient_router_state import ResilientRouterState
from adapters.clock import SystemClock
from adapters.config.loader import GatewayConfig
from adapters.config.stored import deployment_from_record
from adapters.http.app import create_app
from adapters.http.exchange import Inference
from adapters.llm.aiohttp_transport import AiohttpTransport
from adapters.llm.hosts import HOSTS
from adapters.llm.mock.client import MockProvider
from adapters.llm.upstream_client import UpstreamClient
from adapters.persistence.deferred import DeferredStore
from adapters.telemetry import NoopTelemetry
from adapters.tokens.tiktoken_counter import TiktokenTokenCounter
from application.access import Gatekeeper, JwtClaims
from application.catalog import ModelCatalog
from application.completions import Completions
from application.health import BackgroundHealthChecks, DeploymentStates, HealthCheck
from application.identity_cache import IdentityCache
from application.management import Management
from application.models import ModelRegistry
from application.routing import Router
from application.token_counting import TokenCounting
from domain.deployments import Deployment, DeploymentRecord
from domain.errors import BadRequestError
from domain.identity import Role
from ports.llm_provider import LLMProvider
from ports.rate_limiter import RateLimiter
from ports.router_state import RouterState
from ports.token_verifier import TokenVerifier
from ports.unit_of_work import StoreUnavailable

T = TypeVar("T")
_log = structlog.get_logger("switchyard.health")
_changes_log = structlog.get_logger("switchyard.changes")

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
    by_upstream: dict[tuple[type[LLMProvider], str], LLMProvider] | None = None,
) -> dict[str, LLMProvider]:
    """One provider adapter per upstream (kept in `by_upstream` when given, to be reused); the mapping
    is keyed by deployment id."""
    by_upstream = {} if by_upstream is None else by_upstream
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


class LiveDeployments:
    """The served deployments, swapped at once when stored ones change: each new upstream gets its
    pooled client and adapter, and the catalog the whole new set."""

    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        providers: dict[str, LLMProvider],
        clients: dict[tuple[type[LLMProvider], str], httpx.AsyncClient],
        mock: LLMProvider,
        client_factory: Callable[[], httpx.AsyncClient],
    ) -> None:
        self._catalog = catalog
        self._providers = providers
        self._clients = clients
        self._mock = mock
        self._client_factory = client_factory
        self._adapters: dict[tuple[type[LLMProvider], str], LLMProvider] = {}

    def activate(self, deployments: Iterable[Deployment]) -> None:
        served = served_deployments(deployments)
        for deployment in served:
            if deployment.provider in ADAPTERS and upstream_key(deployment) not in self._clients:
                self._clients[upstream_key(deployment)] = self._client_factory()
        # Adapters of unchanged upstreams are kept; the mapping is updated in place, so every use case
        # holding it sees the new deployments.
        wired = wire_providers(served, self._clients, self._mock, self._adapters)
        self._providers.update(wired)
        self._catalog.replace(served)
        for stale in set(self._providers) - set(wired):
            del self._providers[stale]


REDIS_PREFIX_ENV = "SWITCHYARD_REDIS_PREFIX"
"""Keeps several fleets sharing one Redis apart (default `switchyard:`)."""


async def open_redis(redis_url: str | None) -> AsyncIterator[Any]:
    """One Redis client for the router state and the rate limits, None without a Redis URL."""
    if not redis_url:
        yield None
        return
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No client-side retries: a retried script could count a call twice, and an unreachable Redis must
    # cost a call one short timeout, not a backoff series. A blocking pool: a burst beyond the pool waits
    # for a connection instead of failing (which would send it to the local fallback and over-admit).
    pool = BlockingConnectionPool.from_url(
        redis_url,
        max_connections=64,
        timeout=0.5,
        socket_connect_timeout=0.25,
        socket_timeout=0.5,
        health_check_interval=30,
    )
    client = Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
    try:
        yield client
    finally:
        await client.aclose()


def _prefix(environ: Mapping[str, str]) -> str:
    return environ.get(REDIS_PREFIX_ENV, "switchyard:")


def make_router_state(redis: Any, environ: Mapping[str, str]) -> RouterState:
    """The router's state: in this process, or with Redis shared by every instance using it (and this
    process's own while Redis cannot be reached)."""
    local = InMemoryRouterState()
    if redis is None:
        return local
    from adapters.cache.redis_router_state import RedisRouterState  # redis-py only when Redis is used

    return ResilientRouterState(RedisRouterState(redis, _prefix(environ) + "router:"), local)


def make_rate_limiter(redis: Any, environ: Mapping[str, str]) -> RateLimiter:
    """Rate-limit counters: in this process, or in Redis, exact across the fleet (per instance while
    Redis cannot be reached)."""
    local = InMemoryRateLimiter()
    if redis is None:
        return local
    from adapters.cache.redis_rate_limiter import RedisRateLimiter

    return ResilientRateLimiter(RedisRateLimiter(redis, _prefix(environ) + "limits:"), local)


MEMORY_DATABASE = "memory://"
"""A database URL for records kept in this process only (tests, throwaway gateways)."""


def database_url(config: GatewayConfig) -> str:
    """DATABASE_URL / general_settings.database_url, else a SQLite file beside the config (or in the
    working directory without one)."""
    if config.database_url:
        return config.database_url
    from adapters.persistence.database import default_sqlite_url

    directory = config.config_path.resolve().parent if config.config_path else Path.cwd()
    return default_sqlite_url(directory)


async def open_store(config: GatewayConfig) -> AsyncIterator[DeferredStore]:
    """The database, opened and migrated to the current schema (safe when several instances start at
    once) in the background once the server runs: `DeferredStore.open()` is started by the app."""
    url = database_url(config)

    async def opener() -> Any:
        if url == MEMORY_DATABASE:
            from adapters.persistence.memory import InMemoryStore

            return InMemoryStore()
        # Imported in a thread: SQLAlchemy takes a few tenths of a second to import, and the server
        # answers meanwhile.
        await asyncio.to_thread(importlib.import_module, "adapters.persistence.migrate")
        from adapters.persistence.database import Database
        from adapters.persistence.migrate import at_head, upgrade

        database = Database.open(url)
        try:
            if not await at_head(database.engine):
                await upgrade(url)
        except BaseException:
            await database.close()
            raise
        return database

    deferred = DeferredStore(opener)
    try:
        yield deferred
    finally:
        close = getattr(deferred.store, "close", None)
        if close is not None:
            await close()


async def open_token_verifier(config: GatewayConfig) -> AsyncIterator[TokenVerifier | None]:
    settings = config.jwt
    if settings is None:
        yield None
        return
    from adapters.auth.jwt_verifier import JwtVerifier

    client = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=True)
    try:
        yield JwtVerifier(
            client=client,
            jwks_url=settings.public_key_url,
            shared_secret=settings.shared_secret,
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway,
            jwks_ttl=settings.public_key_ttl,
            **({"algorithms": settings.algorithms} if settings.algorithms else {}),
        )
    finally:
        await client.aclose()


def jwt_claims(config: GatewayConfig) -> JwtClaims:
    settings = config.jwt
    if settings is None:
        return JwtClaims()
    return JwtClaims(
        user_id_field=settings.user_id_jwt_field,
        team_id_field=settings.team_id_jwt_field,
        org_id_field=settings.org_id_jwt_field,
        end_user_id_field=settings.end_user_id_jwt_field,
        roles_field=settings.user_roles_jwt_field,
        role_mappings={m.role: Role(m.internal_role) for m in settings.role_mappings},
        admin_scope=settings.admin_jwt_scope,
    )


def _parse_record(record: DeploymentRecord, *, defaults: Any, environ: Mapping[str, str]) -> Deployment:
    deployment = deployment_from_record(record, defaults, environ)
    if adapter_for(deployment.provider) is None:
        raise BadRequestError(
            f"Provider '{deployment.provider}' is not served.", param="litellm_params.model"
        )
    return deployment


def _master_key(config: GatewayConfig) -> str | None:
    return config.master_key.value if config.master_key else None


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
    environ = providers.Callable(lambda config: config.environment, config)
    redis = providers.Resource(
        open_redis, redis_url=providers.Callable(lambda config: config.redis_url, config)
    )
    router_state = providers.Singleton(make_router_state, redis=redis, environ=environ)
    rate_limiter = providers.Singleton(make_rate_limiter, redis=redis, environ=environ)
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
    token_counting = providers.Singleton(
        TokenCounting,
        catalog=catalog,
        providers=llm_providers,
        counter=token_counter,
        policy=providers.Callable(lambda config: config.router_policy, config),
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

    store = providers.Resource(open_store, config=config)
    unit_of_work = providers.Callable(lambda store: store.unit_of_work, store)
    identities = providers.Singleton(
        IdentityCache,
        uow=unit_of_work,
        clock=clock,
        ttl=providers.Callable(lambda config: config.auth_cache_ttl, config),
    )
    token_verifier = providers.Resource(open_token_verifier, config=config)
    gatekeeper = providers.Singleton(
        Gatekeeper,
        identities=identities,
        limiter=rate_limiter,
        clock=clock,
        master_key=providers.Callable(_master_key, config),
        verifier=token_verifier,
        claims=providers.Callable(jwt_claims, config),
        access_groups=catalog.provided.access_groups,
    )
    management = providers.Singleton(
        Management.build, uow=unit_of_work, clock=clock, on_change=identities.provided.invalidate
    )
    live_deployments = providers.Singleton(
        LiveDeployments,
        catalog=catalog,
        providers=llm_providers,
        clients=upstream_clients,
        mock=mock_provider,
        client_factory=upstream_client_factory,
    )
    models = providers.Singleton(
        ModelRegistry,
        uow=unit_of_work,
        clock=clock,
        configured=deployments,
        parse=providers.Callable(
            lambda config: functools.partial(
                _parse_record, defaults=config.deployment_defaults, environ=config.environment
            ),
            config,
        ),
        activate=live_deployments.provided.activate,
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
    while True:
        try:
            if first:
                await models.load()
                await identities.poll()
                first = False
            else:
                await identities.poll()
                await models.poll()
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


_SERVICES = (
    "completions",
    "catalog",
    "router_state",
    "health_check",
    "deployment_states",
    "gatekeeper",
    "management",
    "models",
    "store",
    "token_counting",
)


def create_http_app(container: Container) -> Litestar:
    """The gateway server: the Litestar app over the container, resources tied to its lifespan."""
    config: GatewayConfig = container.config()

    services: dict[str, Any] = {}

    @asynccontextmanager
    async def resources(_: Litestar) -> AsyncIterator[None]:
        await container.init_resources()
        tasks: list[asyncio.Task[None]] = []
        try:
            for name in _SERVICES:
                services[name] = await resolve(getattr(container, name))
            identities = await resolve(container.identities)
            # In the background: a start never waits for the database driver, the connection or the
            # schema check (readiness says when it is done); calls needing the database wait for it.
            tasks.append(asyncio.create_task(run_store(services["store"], identities, services["models"])))
            if config.background_health_checks:
                checks = await resolve(container.background_health_checks)
                tasks.append(
                    asyncio.create_task(run_background_health_checks(checks, config.health_check_interval))
                )
            # Everything loaded so far lives as long as the process: out of the collector's sight, a full
            # collection walks only what requests allocate, not the tens of MB of imported modules.
            gc.collect()
            gc.freeze()
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if "gatekeeper" in services:
                await services["gatekeeper"].drain()
            await container.shutdown_resources()

    def bridge(name: str) -> Provide:
        return Provide(lambda: services[name], use_cache=True, sync_to_thread=False)

    def inference() -> Inference:
        return Inference(services["completions"], services["gatekeeper"], services["token_counting"])

    return create_app(
        dependencies={
            **{name: bridge(name) for name in _SERVICES},
            "inference": Provide(inference, use_cache=True, sync_to_thread=False),
        },
        gatekeeper=(lambda: services["gatekeeper"]) if config.master_key else None,
        max_body_bytes=config.max_request_body_bytes,
        lifespan=[resources],
    )
