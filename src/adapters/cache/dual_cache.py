"""A response cache in this process in front of a shared one: hot entries answered without a round trip."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.cache.memory_response_cache import InMemoryResponseCache
from domain.caching import CachedEntry
from ports.response_cache import ResponseCache

L1_TTL = 5.0
"""Seconds an entry stays in this process: how stale an entry deleted (or replaced) by another instance
may still be answered here."""


class DualCache(ResponseCache):
    """`l1` (this process's memory) in front of `l2` (Redis, say). `get` looks in l1, then in l2, filling
    l1 with what l2 found; `set` writes both, l1 for at most `l1_ttl` seconds (and never longer than the
    entry's own ttl); `delete` and `clear` drop from both. l1 is always written first and never fails, so
    an entry set while l2 is unavailable still answers here for `l1_ttl`; the `CacheUnavailable` of l2 is
    passed on all the same."""

    def __init__(
        self,
        l2: ResponseCache,
        *,
        l1: InMemoryResponseCache | None = None,
        l1_ttl: float = L1_TTL,
    ) -> None:
        self._l1 = l1 if l1 is not None else InMemoryResponseCache()
        self._l2 = l2
        self._l1_ttl = l1_ttl

    async def get(self, key: str) -> CachedEntry | None:
        entry = self._l1.get_now(key)
        if entry is None:
            entry = await self._l2.get(key)
            if entry is not None:
                await self._l1.set(key, entry, self._l1_ttl)
        return entry

    async def get_many(self, keys: Sequence[str]) -> list[CachedEntry | None]:
        found = [self._l1.get_now(key) for key in keys]
        missing = [i for i, entry in enumerate(found) if entry is None]
        if missing:
            fetched = await self._l2.get_many([keys[i] for i in missing])
            for i, entry in zip(missing, fetched, strict=True):
                if entry is not None:
                    found[i] = entry
                    await self._l1.set(keys[i], entry, self._l1_ttl)
        return found

    async def set(self, key: str, entry: CachedEntry, ttl: float | None) -> None:
        await self._l1.set(key, entry, self._l1_ttl if ttl is None else min(ttl, self._l1_ttl))
        await self._l2.set(key, entry, ttl)

    async def delete(self, key: str) -> None:
        await self._l1.delete(key)
        await self._l2.delete(key)

    async def clear(self) -> None:
        await self._l1.clear()
        await self._l2.clear()

    async def close(self) -> None:
        await self._l2.close()
