"""Response cache shared by a fleet through Redis: one key per entry, expiring by itself."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.cache.codec import decode_or_miss, encode_or_skip
from domain.caching import CachedEntry
from ports.response_cache import CacheUnavailable, ResponseCache

T = TypeVar("T")

TIMEOUT = 0.25
"""Seconds one call may take, waiting for a pooled connection included, before it is CacheUnavailable."""
CLEAR_TIMEOUT = 30.0
"""Seconds `clear` may take: it walks the whole keyspace, so it is bounded but not by a call's budget."""
CLEAR_BATCH = 500
"""Keys asked of each SCAN step and removed by each UNLINK."""


class RedisResponseCache(ResponseCache):
    """Entries as the codec's bytes under `<prefix>cache:<key>`, each with its ttl as a PX expiry (no ttl:
    until Redis's own eviction policy drops it). `get_many` is one MGET; `clear` removes only keys under
    this prefix, SCANning and UNLINKing them in batches. Bytes that are not an entry (another version's,
    say) are a miss.

    It takes its client and never builds one (pool and socket timeouts are the composition root's). Each
    call is bounded here by `timeout`; any Redis error or timeout raises `CacheUnavailable`."""

    def __init__(self, redis: Redis, prefix: str, *, timeout: float = TIMEOUT) -> None:
        self._redis = redis
        self._prefix = f"{prefix}cache:"
        self._timeout = timeout

    async def get(self, key: str) -> CachedEntry | None:
        return decode_or_miss(await self._call(self._redis.get(self._prefix + key), self._timeout))

    async def get_many(self, keys: Sequence[str]) -> list[CachedEntry | None]:
        if not keys:
            return []
        found = await self._call(self._redis.mget([self._prefix + key for key in keys]), self._timeout)
        return [decode_or_miss(data) for data in found]

    async def set(self, key: str, entry: CachedEntry, ttl: float | None) -> None:
        data = None if ttl is not None and ttl <= 0 else encode_or_skip(key, entry)
        if data is None:  # set replaces: what cannot be kept leaves no older entry behind
            await self.delete(key)
            return
        px = None if ttl is None else max(1, math.ceil(ttl * 1000))
        await self._call(self._redis.set(self._prefix + key, data, px=px), self._timeout)

    async def delete(self, key: str) -> None:
        await self._call(self._redis.unlink(self._prefix + key), self._timeout)

    async def clear(self) -> None:
        await self._call(self._clear(), CLEAR_TIMEOUT)

    async def _clear(self) -> None:
        pattern = _glob_escape(self._prefix) + "*"
        batch: list[bytes] = []
        async for name in self._redis.scan_iter(match=pattern, count=CLEAR_BATCH):
            batch.append(name)
            if len(batch) >= CLEAR_BATCH:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)

    async def _call(self, call: Awaitable[T], timeout: float) -> T:
        try:
            async with asyncio.timeout(timeout):
                return await call
        except (RedisError, OSError) as exc:  # TimeoutError included
            raise CacheUnavailable(f"response cache in Redis is unavailable: {exc!r}") from exc


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
