"""The semantic cache's vector index in Redis vector search: a server with the query engine (Redis 8, or
Redis Stack; a plain Redis 7 has none)."""

from __future__ import annotations

import asyncio
import re
import struct
import uuid
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from redis.asyncio import Redis
from redis.commands.search.query import Query
from redis.exceptions import RedisError, ResponseError

from adapters.cache.vector_entries import reply_of, scope_key, to_store
from adapters.clock import SystemClock
from domain.caching import CachedReply
from domain.errors import ConfigurationError
from ports.clock import Clock
from ports.response_cache import CacheUnavailable, VectorIndex

T = TypeVar("T")

INDEX_NAME = "switchyard_semantic_cache"
TIMEOUT = 1.0
"""Seconds a search or add may take, waiting for a pooled connection included, before it is
CacheUnavailable."""
ADMIN_TIMEOUT = 30.0
"""Seconds `clear` may take: dropping an index deletes its entries."""

# Keys, per number of dimensions d:
#   <index_name>:<d>             the search index (FT.CREATE ... ON HASH PREFIX 1 <index_name>:<d>:)
#   <index_name>:<d>:<uuid>      hash of one entry: scope_key (TAG), expires_at (NUMERIC), embedding
#                                (VECTOR, FLOAT32, COSINE), scope and reply (not indexed); it expires
#                                with the entry
_VECTOR_FIELD = "embedding"


class RedisVectorIndex(VectorIndex):
    """Entries as hashes indexed by one HNSW index per number of dimensions (see the key layout); an add
    is one round trip that creates the index if it is not there and writes the hash with its expiry. A
    search is one FT.SEARCH: the nearest vector among the hashes of the scope's key whose `expires_at`
    is still ahead (a hash also expires with its entry, so nothing is left to delete); the full scope is
    compared on a hit, so a key collision is a miss. HNSW is approximate: on a large index the nearest
    vector may now and then be missed (a miss, never a wrong scope).

    It takes its client (decode_responses off, as the composition root makes them) and closes it only if
    `owns_client`. Every call is bounded by `timeout`; any Redis error or timeout raises
    `CacheUnavailable`, and so does a server without the query engine, which `open` reports at startup
    as a ConfigurationError instead."""

    def __init__(
        self,
        client: Redis,
        *,
        index_name: str = INDEX_NAME,
        timeout: float = TIMEOUT,
        owns_client: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._index_name = index_name
        self._names = re.compile(rf"{re.escape(index_name)}:(\d+)")
        self._timeout = timeout
        self._owns_client = owns_client
        self._clock = clock or SystemClock()
        self._engine_checked = False

    async def open(self) -> None:
        """Checks now that the server has the query engine: ConfigurationError when it has not;
        CacheUnavailable when it does not answer (then the first call checks again)."""
        try:
            await self._call(self._client.execute_command("FT._LIST"))
        except CacheUnavailable as exc:
            if isinstance(exc.__cause__, ResponseError):  # it answered: it knows no such command
                raise ConfigurationError(
                    "litellm_settings.cache_params",
                    "a Redis semantic cache needs a Redis server with the query engine (Redis 8, or Redis "
                    f"Stack); this one answered FT._LIST with: {exc.__cause__}",
                ) from exc.__cause__
            raise
        self._engine_checked = True

    async def search(
        self, scope: str, vector: Sequence[float], threshold: float
    ) -> tuple[CachedReply, float] | None:
        await self._ready()
        if not vector:
            return None
        query = (
            Query(
                f"(@scope_key:{{{_tag(scope)}}} @expires_at:[({self._clock.now()!r} +inf])"
                f"=>[KNN 1 @{_VECTOR_FIELD} $vector AS distance]"
            )
            .return_field("distance")
            .return_field("scope")
            .return_field("reply", decode_field=False)
            .sort_by("distance")
            .paging(0, 1)
            .dialect(2)
        )
        search = self._client.ft(self._index(vector)).search(query, {"vector": _floats(vector)})
        try:
            found = await self._call(search)
        except CacheUnavailable as exc:
            if _no_index(exc.__cause__):  # no vector of this many dimensions was ever added
                return None
            raise
        if not found.docs:
            return None
        document = found.docs[0]
        similarity = 1.0 - float(document.distance)
        if document.scope != scope or similarity < threshold:
            return None
        reply = reply_of(document.reply)
        return None if reply is None else (reply, similarity)

    async def add(self, scope: str, vector: Sequence[float], entry: CachedReply, ttl: float | None) -> None:
        await self._ready()
        if not (stored := to_store(scope, vector, entry, ttl, self._clock.now())):
            return
        data, expires_at = stored
        name = self._index(vector)
        fields = {
            "scope_key": _tag(scope),
            "scope": scope,
            "expires_at": repr(expires_at),
            _VECTOR_FIELD: _floats(vector),
            "reply": data,
        }
        key = f"{name}:{uuid.uuid4().hex}"
        # One round trip: the index is created (or found there already) as the entry is written, so an
        # index dropped meanwhile by another instance's `clear` is back at the next add.
        pipe = self._client.pipeline(transaction=False)
        pipe.execute_command(*_create_index(name, len(vector)))
        pipe.hset(key, mapping=fields)  # type: ignore[arg-type]  # redis-py types values narrowly
        if ttl is not None:
            pipe.pexpire(key, max(1, round(ttl * 1000)))
        results = await self._call(pipe.execute(raise_on_error=False))
        failed = [r for r in results if isinstance(r, Exception) and "already exists" not in str(r).lower()]
        if failed:
            raise CacheUnavailable(f"semantic cache in Redis is unavailable: {failed[0]!r}") from failed[0]

    async def clear(self) -> None:
        await self._ready()
        await self._call(self._drop_all(), ADMIN_TIMEOUT)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _index(self, vector: Sequence[float]) -> str:
        return f"{self._index_name}:{len(vector)}"

    async def _ready(self) -> None:
        if not self._engine_checked:
            try:
                await self.open()
            except ConfigurationError as exc:
                raise CacheUnavailable(str(exc)) from exc

    async def _drop_all(self) -> None:
        for raw in await self._client.execute_command("FT._LIST"):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            if self._names.fullmatch(name):
                await self._client.ft(name).dropindex(delete_documents=True)

    async def _call(self, call: Awaitable[T], timeout: float | None = None) -> T:
        """The one place where Redis's errors become the port's."""
        try:
            async with asyncio.timeout(timeout or self._timeout):
                return await call
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            raise CacheUnavailable(f"semantic cache in Redis is unavailable: {exc!r}") from exc


def _tag(scope: str) -> str:
    """The scope's key as a TAG value that needs no escaping in a query."""
    return f"{scope_key(scope) & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def _create_index(name: str, dimensions: int) -> tuple[str, ...]:
    return (
        "FT.CREATE", name, "ON", "HASH", "PREFIX", "1", f"{name}:",
        "SCHEMA", "scope_key", "TAG", "expires_at", "NUMERIC",
        _VECTOR_FIELD, "VECTOR", "HNSW", "6",
        "TYPE", "FLOAT32", "DIM", str(dimensions), "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip


def _floats(vector: Sequence[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _no_index(exc: BaseException | None) -> bool:
    message = str(exc).lower()
    return isinstance(exc, ResponseError) and ("no such index" in message or "unknown index" in message)
