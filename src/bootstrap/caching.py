"""The response cache, wired only when `litellm_settings.cache` is true: its backend by
`cache_params.type`, behind a bounded timeout, and for the semantic types a vector index beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from adapters.config.loader import GatewayConfig
from adapters.config.schema import CacheSettings
from adapters.observability.metrics import PrometheusMetrics
from application.caching import CachePolicy, ResponseCaching, call_types_of
from domain.caching import Partition
from domain.errors import ConfigurationError
from ports.clock import Clock
from ports.response_cache import ResponseCache, VectorIndex

SEMANTIC = ("redis-semantic", "qdrant-semantic", "disk-semantic")
_MB = 1024 * 1024


async def open_response_caching(
    config: GatewayConfig, redis: Any, clock: Clock, metrics: PrometheusMetrics | None = None
) -> AsyncIterator[ResponseCaching | None]:
    """The caching of the completions use case while the gateway runs (None: no cache)."""
    settings = config.cache
    if settings is None:
        yield None
        return
    policy = cache_policy(settings, config)
    on_error = metrics.cache_error if metrics is not None else None
    cache = _exact_cache(settings, config, redis, clock, on_error)
    index = await _vector_index(settings, config, redis, clock) if settings.type in SEMANTIC else None
    caching = ResponseCaching(cache, policy, clock, index=index)
    try:
        yield caching
    finally:
        await caching.close()


def cache_policy(settings: CacheSettings, config: GatewayConfig) -> CachePolicy:
    embedding_model = (
        settings.embedding_model
        or settings.redis_semantic_cache_embedding_model
        or settings.qdrant_semantic_cache_embedding_model
    )
    if settings.type in SEMANTIC:
        served = {deployment.model_name for deployment in config.deployments}
        if embedding_model is None or embedding_model not in served:
            raise ConfigurationError(
                "litellm_settings.cache_params.embedding_model",
                f"a {settings.type} cache embeds prompts with a model group of the config; "
                f"{embedding_model!r} is not one",
            )
    return CachePolicy(
        ttl=settings.ttl,
        namespace=settings.namespace,
        call_types=call_types_of(settings.supported_call_types),
        default_on=settings.mode == "default_on",
        partition=Partition(settings.partition),
        similarity_threshold=settings.similarity_threshold
        if settings.similarity_threshold is not None
        else 0.95,
        embedding_model=embedding_model,
    )


def _cache_dir(settings: CacheSettings, config: GatewayConfig) -> Path:
    if settings.disk_cache_dir:
        return Path(settings.disk_cache_dir)
    base = config.config_path.resolve().parent if config.config_path else Path.cwd()
    return base / ".switchyard-cache"


def _exact_cache(
    settings: CacheSettings,
    config: GatewayConfig,
    redis: Any,
    clock: Clock,
    on_error: Callable[[str], None] | None,
) -> ResponseCache:
    from adapters.cache.memory_response_cache import InMemoryResponseCache

    memory = InMemoryResponseCache(max_bytes=int(settings.max_size_mb * _MB), clock=clock)
    if settings.type in ("redis", "redis-semantic"):
        from adapters.cache.bounded_cache import BoundedCache
        from adapters.cache.dual_cache import DualCache
        from adapters.cache.redis_response_cache import RedisResponseCache
        from bootstrap.resources import redis_prefix

        if redis is None:
            raise ConfigurationError(
                "litellm_settings.cache_params", "a redis cache needs Redis: set REDIS_URL or host"
            )
        # The memory layer answers while Redis is away: only the shared layer is bounded.
        return DualCache(
            BoundedCache(RedisResponseCache(redis, redis_prefix(config.environment)), on_error=on_error),
            l1=memory,
        )
    if settings.type == "disk":
        from adapters.cache.bounded_cache import BoundedCache
        from adapters.cache.disk_response_cache import DiskResponseCache

        path = _cache_dir(settings, config) / "responses.sqlite3"
        return BoundedCache(DiskResponseCache(path, clock=clock), on_error=on_error)
    return memory


async def _vector_index(
    settings: CacheSettings, config: GatewayConfig, redis: Any, clock: Clock
) -> VectorIndex:
    """The semantic cache's index, checked at startup."""
    index: VectorIndex
    if settings.type == "disk-semantic":
        from adapters.cache.vector_sqlite import SqliteVecVectorIndex

        index = SqliteVecVectorIndex(_cache_dir(settings, config) / "vectors.sqlite3", clock=clock)
    elif settings.type == "qdrant-semantic":
        from adapters.cache.vector_qdrant import QdrantVectorIndex

        local = None if settings.qdrant_api_base else str(_cache_dir(settings, config) / "qdrant")
        index = QdrantVectorIndex.connect(
            settings.qdrant_api_base,
            api_key=settings.qdrant_api_key,
            path=local,
            collection=settings.qdrant_collection_name or "switchyard_semantic_cache",
            quantization=settings.qdrant_quantization_config,
            clock=clock,
        )
    else:
        from adapters.cache.vector_redis import RedisVectorIndex

        if redis is None:
            raise ConfigurationError(
                "litellm_settings.cache_params", "a redis-semantic cache needs Redis: set REDIS_URL or host"
            )
        index = RedisVectorIndex(
            redis,
            index_name=settings.redis_semantic_cache_index_name or "switchyard_semantic_cache",
            clock=clock,
        )
    await index.open()
    return index
