"""The ports of response caching: an exact cache of entries by key, and the vector index a semantic cache
searches."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from domain.caching import CachedEntry, CachedReply


class CacheUnavailable(Exception):
    """The cache's backend did not answer (down, or slower than its bounded timeout). The caller treats it
    as a miss (or a store that did not happen): a cache never fails a call."""


class ResponseCache(ABC):
    """Entries by key, each living `ttl` seconds (None: the backend's own bound, or until evicted).

    Contract: `get` of a key never set, expired or evicted is None; `set` replaces; entries come back
    equal to what was stored; a backend that cannot answer raises `CacheUnavailable` (never anything
    else), within a bounded time."""

    @abstractmethod
    async def get(self, key: str) -> CachedEntry | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[CachedEntry | None]:
        """Entries of `keys`, in order (an adapter may fetch them in one round trip)."""
        return [await self.get(key) for key in keys]

    @abstractmethod
    async def set(self, key: str, entry: CachedEntry, ttl: float | None) -> None: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def clear(self) -> None:
        """Drops every entry of this cache (its namespace of the backend)."""

    async def close(self) -> None:
        return None


class VectorIndex(ABC):
    """The semantic cache's store: replies under the embedding of their prompt, searched by similarity
    within a scope (the partition, model group and non-message parameters, as one string).

    Contract: `search` returns the stored reply whose vector's cosine similarity to `vector` is highest
    and at least `threshold`, with that similarity, among the live entries of `scope` only; None when
    there is none. Entries expire after `ttl` seconds. A backend that cannot answer raises
    `CacheUnavailable`."""

    @abstractmethod
    async def search(
        self, scope: str, vector: Sequence[float], threshold: float
    ) -> tuple[CachedReply, float] | None: ...

    @abstractmethod
    async def add(
        self, scope: str, vector: Sequence[float], entry: CachedReply, ttl: float | None
    ) -> None: ...

    @abstractmethod
    async def clear(self) -> None: ...

    async def open(self) -> None:
        """Checks the backend at startup (a configuration it cannot serve is a ConfigurationError)."""
        return None

    async def close(self) -> None:
        return None
