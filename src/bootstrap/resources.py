"""The resources the composition root opens per deployment: Redis, the database, the JWT verifier."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import importlib.util
import pkgutil
import sys
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.cache.resilient_rate_limiter import ResilientRateLimiter
from adapters.cache.resilient_router_state import ResilientRouterState
from adapters.config.loader import GatewayConfig
from adapters.crypto.lazy import LazyCredentialCipher
from adapters.persistence.deferred import DeferredStore
from adapters.persistence.location import default_sqlite_url
from application.access import JwtClaims
from domain.identity import Role
from ports.credential_cipher import CredentialCipher
from ports.rate_limiter import RateLimiter
from ports.router_state import RouterState
from ports.token_verifier import TokenVerifier

T = TypeVar("T")

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


def redis_prefix(environ: Mapping[str, str]) -> str:
    return environ.get(REDIS_PREFIX_ENV, "switchyard:")


def make_router_state(redis: Any, environ: Mapping[str, str]) -> RouterState:
    """The router's state: in this process, or with Redis shared by every instance using it (and this
    process's own while Redis cannot be reached)."""
    local = InMemoryRouterState()
    if redis is None:
        return local
    from adapters.cache.redis_router_state import RedisRouterState  # redis-py only when Redis is used

    return ResilientRouterState(RedisRouterState(redis, redis_prefix(environ) + "router:"), local)


def make_rate_limiter(redis: Any, environ: Mapping[str, str]) -> RateLimiter:
    """Rate-limit counters: in this process, or in Redis, exact across the fleet (per instance while
    Redis cannot be reached)."""
    local = InMemoryRateLimiter()
    if redis is None:
        return local
    from adapters.cache.redis_rate_limiter import RedisRateLimiter

    return ResilientRateLimiter(RedisRateLimiter(redis, redis_prefix(environ) + "limits:"), local)


MEMORY_DATABASE = "memory://"
"""A database URL for records kept in this process only (tests, throwaway gateways)."""


def database_url(config: GatewayConfig) -> str:
    """DATABASE_URL / general_settings.database_url, else a SQLite file beside the config (or in the
    working directory without one)."""
    if config.database_url:
        return config.database_url
    directory = config.config_path.resolve().parent if config.config_path else Path.cwd()
    return default_sqlite_url(directory)


SALT_KEY_ENV = ("SWITCHYARD_SALT_KEY", "LITELLM_SALT_KEY")


def salt_key(config: GatewayConfig) -> str | None:
    """The key stored credentials are encrypted under: SWITCHYARD_SALT_KEY, else LiteLLM's
    LITELLM_SALT_KEY, else the master key (LiteLLM's own fallback); None without any of them."""
    for name in SALT_KEY_ENV:
        if value := config.environment.get(name):
            return value
    return config.master_key.value if config.master_key else None


def credential_cipher(key: str | None) -> CredentialCipher | None:
    return LazyCredentialCipher(key) if key else None


async def in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` run in a daemon thread: a caller cancelled meanwhile returns at once and the
    process may exit without waiting for it (the thread's result, then, goes nowhere)."""
    done: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not done.set_running_or_notify_cancel():
            return  # the caller gave up before the thread started
        try:
            done.set_result(function(*args))
        except BaseException as exc:  # handed to the caller, whatever it is
            done.set_exception(exc)

    threading.Thread(target=run, name="switchyard-background", daemon=True).start()
    return await asyncio.wrap_future(done)


def _import_database_modules() -> None:
    """The database adapter's modules, SQLAlchemy's ORM left out (see `_async_engine_first`)."""
    _async_engine_first()
    importlib.import_module("adapters.persistence.migrate")


_ASYNC_PACKAGE = "sqlalchemy.ext.asyncio"


def _async_engine_first() -> None:
    """Registers SQLAlchemy's asyncio package with its engine and results only. Its `__init__` would also
    import its ORM sessions, and with them the whole ORM, which the gateway (on Core) never uses: the bench
    server's RSS after start 94.6 -> 87.5 MB and after load 100.0 -> 92.6 MB. The rest of the package
    loads the first time a name outside those is asked for, by running that `__init__` as an import would
    have. Nothing when the package is imported already."""
    name = _ASYNC_PACKAGE
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not installed: the import that follows says so
    loader = spec.loader
    package = importlib.util.module_from_spec(spec)
    submodules = {found.name for found in pkgutil.iter_modules(spec.submodule_search_locations)}
    lock = threading.Lock()

    def rest(attribute: str) -> Any:
        if attribute in submodules:
            # Asked by `from . import exc` (and the like) before the submodule is imported: not there yet.
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        with lock:
            if "__getattr__" in vars(package):
                del package.__getattr__
                loader.exec_module(package)
        return getattr(package, attribute)

    package.__getattr__ = rest
    sys.modules[name] = package
    try:
        for submodule, names in _EARLY_NAMES.items():
            module = importlib.import_module(f"{name}.{submodule}")
            for early in names:
                setattr(package, early, getattr(module, early))
    except BaseException:
        del sys.modules[name]
        raise


_EARLY_NAMES = {
    "engine": (
        "AsyncConnection",
        "AsyncEngine",
        "AsyncTransaction",
        "async_engine_from_config",
        "create_async_engine",
        "create_async_pool_from_url",
    ),
    "result": ("AsyncMappingResult", "AsyncResult", "AsyncScalarResult", "AsyncTupleResult"),
}
"""What the package's `__init__` takes from its engine and result modules, given to it at once."""


async def open_store(config: GatewayConfig) -> AsyncIterator[DeferredStore]:
    """The database, opened and migrated to the current schema (safe when several instances start at
    once) in the background once the server runs: `DeferredStore.open()` is started by the app."""
    url = database_url(config)

    async def opener() -> Any:
        if url == MEMORY_DATABASE:
            from adapters.persistence.memory import InMemoryStore

            return InMemoryStore()
        # SQLAlchemy takes a few tenths of a second to import (a second and more on a cold disk): in a
        # thread, while the server answers; in a daemon thread of its own, so that a server stopped
        # meanwhile lets go of it at once instead of waiting for it (as the executor's threads are).
        await in_daemon_thread(_import_database_modules)
        from adapters.persistence.database import Database
        from adapters.persistence.migrate import at_head, upgrade

        database = Database.open(url, cipher=credential_cipher(salt_key(config)))
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
