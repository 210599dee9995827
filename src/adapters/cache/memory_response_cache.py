"""Response cache held in this process: least recently used entries evicted past a bound in bytes."""

from __future__ import annotations

from collections import OrderedDict

from adapters.cache.codec import encode_or_skip
from adapters.clock import SystemClock
from domain.caching import CachedEntry
from ports.clock import Clock
from ports.response_cache import ResponseCache

MAX_BYTES = 64 * 1024 * 1024
"""Default bound of the entries' total size, each counted as its encoded length."""


class _Slot:
    __slots__ = ("entry", "expires_at", "size")

    def __init__(self, entry: CachedEntry, expires_at: float | None, size: int) -> None:
        self.entry = entry
        self.expires_at = expires_at
        self.size = size


class InMemoryResponseCache(ResponseCache):
    """The entries themselves (a hit decodes nothing), in least-recently-used order. An entry's size is
    its encoded length, measured once when it is set; past `max_bytes` the least recently used go first,
    and an entry larger than the whole bound is not kept. Expiry runs on the clock's monotonic time; an
    expired entry is a miss and is dropped when read (or evicted in its turn). Every method runs without
    an await, so each is atomic within the event loop."""

    def __init__(self, *, max_bytes: int = MAX_BYTES, clock: Clock | None = None) -> None:
        self._max_bytes = max_bytes
        self._clock = clock or SystemClock()
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._slots)

    async def get(self, key: str) -> CachedEntry | None:
        return self.get_now(key)

    def get_now(self, key: str) -> CachedEntry | None:
        """`get` without the await, for a wrapper that looks here first."""
        slot = self._slots.get(key)
        if slot is None:
            return None
        if slot.expires_at is not None and self._clock.monotonic() >= slot.expires_at:
            self._drop(key)
            return None
        self._slots.move_to_end(key)
        return slot.entry

    async def set(self, key: str, entry: CachedEntry, ttl: float | None) -> None:
        self._drop(key)
        if ttl is not None and ttl <= 0:
            return
        data = encode_or_skip(key, entry)
        if data is None or len(data) > self._max_bytes:
            return
        expires_at = None if ttl is None else self._clock.monotonic() + ttl
        self._slots[key] = _Slot(entry, expires_at, len(data))
        self._bytes += len(data)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._slots)))

    async def delete(self, key: str) -> None:
        self._drop(key)

    async def clear(self) -> None:
        self._slots.clear()
        self._bytes = 0

    def _drop(self, key: str) -> None:
        slot = self._slots.pop(key, None)
        if slot is not None:
            self._bytes -= slot.size
