"""The composition root: one dependency-injector container, built from the parsed config, that picks
each port's adapter and starts and stops the resources (upstream clients in `upstreams`, Redis, the
database and the JWT verifier in `resources`), and the gateway app over it."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.config.loader import GatewayConfig
from adapters.config.stored import deployment_from_record
from adapters.crypto.argon2_hasher import Argon2PasswordHasher
from adapters.llm.mock.client import MockProvider
from adapters.observability.access_log import AccessLog
from adapters.observability.callbacks import custom_callback
from adapters.observability.webhook import WebhookCallback
from adapters.telemetry import NoopTelemetry
from adapters.tokens.tiktoken_counter import TiktokenTokenCounter
from application.access import Gatekeeper
from application.budgets import BudgetGuard
from application.catalog import ModelCatalog
from application.completions import Completions
from application.health import BackgroundHealthChecks, DeploymentStates, HealthCheck
from application.identity_cache import IdentityCache
from application.metering import Metering
from application.models import ModelRegistry
from application.passthrough import PassThroughCalls
from application.pricing import Pricing
from application.responses import Responses
from application.routing import Router
from application.spend import SpendRecorder, SpendWriter
from application.spend_totals import SpendLookup
from application.token_counting import TokenCounting
from bootstrap.caching import open_response_caching
from bootstrap.guardrails import open_guardrails
from bootstrap.loops import run_background_health_checks
from bootstrap.metrics import make_key_metrics, make_metrics, metric_observers, sampled_metrics
from bootstrap.money import (
    make_budget_reservations,
    make_price_catalog,
    make_spend_ledger,
    open_journals,
    soft_budget_alert,
)
from bootstrap.passthrough import open_passthrough
from bootstrap.resources import (
    MEMORY_DATABASE,
    REDIS_PREFIX_ENV,
    database_url,
    jwt_claims,
    make_rate_limiter,
    make_router_state,
    open_redis,
    open_store,
    open_token_verifier,
)
from bootstrap.tracing import (
    open_tracing_resource,
    span_annotator,
    traced_provider,
    traced_providers,
)
from bootstrap.upstreams import (
    ADAPTERS,
    LiveDeployments,
    adapter_for,
    new_upstream_client,
    open_upstream_clients,
    served_deployments,
    upstream_key,
    wire_providers,
)
from domain.deployments import Deployment, DeploymentRecord
from domain.errors import BadRequestError
from ports.call_observer import CallObserver

if TYPE_CHECKING:
    from adapters.http.app import Gateway
    from application.management import Management
    from application.spend_reports import SpendDesk

__all__ = [
    "ADAPTERS",
    "MEMORY_DATABASE",
    "REDIS_PREFIX_ENV",
    "Container",
    "LiveDeployments",
    "adapter_for",
    "build_container",
    "create_http_app",
    "database_url",
    "resolve",
    "run_background_health_checks",
    "run_store",
    "served_deployments",
    "upstream_key",
]

T = TypeVar("T")


def _parse_record(record: DeploymentRecord, *, defaults: Any, environ: Mapping[str, str]) -> Deployment:
    deployment = deployment_from_record(record, defaults, environ)
    if adapter_for(deployment.provider) is None:
        raise BadRequestError(
            f"Provider '{deployment.provider}' is not served.", param="litellm_params.model"
        )
    return deployment


def record_parser(config: GatewayConfig) -> Callable[[DeploymentRecord], Deployment]:
    """How a stored deployment is parsed under `config` (its defaults and environment)."""
    return functools.partial(_parse_record, defaults=config.deployment_defaults, environ=config.environment)


def _master_key(config: GatewayConfig) -> str | None:
    return config.master_key.value if config.master_key else None


def call_observers(config: GatewayConfig, metrics: Sequence[CallObserver]) -> tuple[CallObserver, ...]:
    """What watches each finished call: the metrics (unless off), the access log while the logs take
    info lines, and the operator's own callbacks (`litellm_settings.callbacks`), each behind a queue of
    its own."""
    found: list[CallObserver] = [*metrics, AccessLog()] if AccessLog.enabled() else [*metrics]
    for index, path in enumerate(config.callbacks):
        found.append(custom_callback(path, f"litellm_settings.callbacks[{index}]"))
    if config.webhook is not None:
        webhook = config.webhook
        client = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        found.append(WebhookCallback(client, webhook.url, webhook.headers, webhook.flush_interval))
    return tuple(found)


def _management(**parts: Any) -> Management:
    """Management, imported on its first use: the routes that use it are registered after the start."""
    from application.management import Management

    return Management.build(**parts)


def _spend_desk(**parts: Any) -> SpendDesk:
    """The spend reports, imported on their first use (see `_management`)."""
    from application.spend_reports import SpendDesk

    return SpendDesk.build(**parts)


class Container(containers.DeclarativeContainer):
    __self__ = providers.Self()
    config = providers.Dependency(instance_of=GatewayConfig)
    deployments = providers.Singleton(lambda config: served_deployments(config.deployments), config)

    clock = providers.Singleton(SystemClock)
    telemetry = providers.Singleton(NoopTelemetry)
    tracing = providers.Resource(open_tracing_resource, config)
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
    price_catalog = providers.Singleton(make_price_catalog)
    pricing = providers.Singleton(Pricing, catalog=price_catalog)
    call_metrics = providers.Singleton(make_metrics, config)
    key_metrics = providers.Singleton(make_key_metrics, config, call_metrics, clock)
    journals = providers.Resource(open_journals, config=config, redis=redis, environ=environ)
    spend_recorder = providers.Singleton(
        SpendRecorder,
        journal=providers.Callable(lambda pair: pair[0], journals),
        fallback=providers.Callable(lambda pair: pair[1], journals),
    )
    caching = providers.Resource(open_response_caching, config, redis, clock, call_metrics)
    metering = providers.Singleton(
        Metering,
        pricing=pricing,
        counter=token_counter,
        recorder=spend_recorder,
        clock=clock,
        store_prompts=providers.Callable(lambda config: config.store_prompts_in_spend_logs, config),
        log_prompts=providers.Callable(lambda config: config.log_prompts, config),
        observers=providers.Callable(
            lambda config, metrics, tracing: (*call_observers(config, metrics), *span_annotator(tracing)),
            config,
            providers.Callable(metric_observers, call_metrics, key_metrics),
            tracing,
        ),
    )
    guardrails = providers.Resource(
        open_guardrails,
        config,
        token_counter,
        clock,
        providers.Callable(lambda container: container.completions, __self__),
    )
    completions = providers.Singleton(
        Completions,
        catalog=catalog,
        providers=providers.Callable(traced_providers, llm_providers, tracing),
        mock=providers.Callable(traced_provider, mock_provider, tracing),
        router=router,
        clock=clock,
        telemetry=telemetry,
        metering=metering,
        caching=caching,
        guardrails=guardrails,
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
    responses = providers.Singleton(
        Responses,
        uow=unit_of_work,
        clock=clock,
        retention=providers.Callable(lambda config: config.responses_retention, config),
    )
    identities = providers.Singleton(
        IdentityCache,
        uow=unit_of_work,
        clock=clock,
        ttl=providers.Callable(lambda config: config.auth_cache_ttl, config),
    )
    token_verifier = providers.Resource(open_token_verifier, config=config)
    spend_ledger = providers.Singleton(make_spend_ledger, store=store, environ=environ)
    spend_writer = providers.Singleton(
        SpendWriter, journals=spend_recorder.provided.journals, ledger=spend_ledger
    )
    budget_reservations = providers.Singleton(make_budget_reservations, redis=redis, environ=environ)
    budget_guard = providers.Singleton(
        BudgetGuard,
        reservations=budget_reservations,
        ledger=spend_ledger,
        pricing=pricing,
        catalog=catalog,
        clock=clock,
        policy=providers.Callable(lambda config: config.router_policy, config),
        on_soft_budget=providers.Object(soft_budget_alert),
    )
    gatekeeper = providers.Singleton(
        Gatekeeper,
        identities=identities,
        limiter=rate_limiter,
        clock=clock,
        master_key=providers.Callable(_master_key, config),
        verifier=token_verifier,
        claims=providers.Callable(jwt_claims, config),
        access_groups=catalog.provided.access_groups,
        budgets=budget_guard,
    )
    management = providers.Singleton(
        _management,
        uow=unit_of_work,
        clock=clock,
        on_change=identities.provided.invalidate,
        spend=providers.Singleton(SpendLookup, ledger=spend_ledger, clock=clock),
        passwords=providers.Singleton(Argon2PasswordHasher),
    )
    spend = providers.Singleton(
        _spend_desk,
        ledger=spend_ledger,
        uow=unit_of_work,
        clock=clock,
        reservations=budget_reservations,
        catalog=catalog,
        pricing=pricing,
        counter=token_counter,
        policy=providers.Callable(lambda config: config.router_policy, config),
    )
    live_deployments = providers.Singleton(
        LiveDeployments,
        catalog=catalog,
        providers=llm_providers,
        clients=upstream_clients,
        mock=mock_provider,
        client_factory=upstream_client_factory,
    )
    relaying = providers.Resource(open_passthrough, client_factory=upstream_client_factory, environ=environ)
    passthrough = providers.Singleton(
        PassThroughCalls,
        relay=relaying.provided.relay,
        signers=relaying.provided.signers,
        framings=relaying.provided.framings,
        gatekeeper=gatekeeper,
        metering=metering,
        deployments=catalog.provided.deployments,
        environ=environ,
        clock=clock,
        custom_routes=providers.Callable(lambda config: config.passthrough_routes, config),
    )
    models = providers.Singleton(
        ModelRegistry,
        uow=unit_of_work,
        clock=clock,
        configured=deployments,
        parse=providers.Callable(record_parser, config),
        activate=live_deployments.provided.activate,
    )
    metrics = providers.Singleton(
        sampled_metrics,
        call_metrics,
        key_metrics,
        states=deployment_states,
        writer=spend_writer,
        metering=metering,
        budgets=budget_guard,
        tracing=tracing,
    )


async def close_observers(container: Container) -> None:
    """At shutdown: each queued callback gets a moment to deliver what it holds."""
    metering = await resolve(container.metering)
    for observer in metering.observers:
        await observer.close()


def build_container(config: GatewayConfig) -> Container:
    return Container(config=config)


async def resolve(provider: providers.Provider[T]) -> T:
    """The provider's object; those depending on an async resource hand back an awaitable first."""
    value = provider()
    return await value if inspect.isawaitable(value) else value


def create_http_app(container: Container) -> Gateway:
    """The gateway server over `container` (see bootstrap.http: Litestar is loaded only for the server)."""
    from bootstrap.http import create_http_app as create

    return create(container)
