"""Any response cache made safe for the request path: every call bounded in time, every failure a
`CacheUnavailable`, and an unreachable backend left alone for a while instead of costing each call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import structlog

from adapters.cache.outage import RETRY_SHARED_AFTER, Outage
from adapters.clock import SystemClock
from domain.caching import CachedEntry
from ports.clock import Clock
from ports.response_cache import CacheUnavailable, ResponseCache

T = TypeVar("T")

_log = structlog.get_logger("switchyard.cache")

TIMEOUT = 0.25
"""Seconds a get (or a set) may take before it is CacheUnavailable: a miss costs less than a wait."""
CLEAR_TIMEOUT = 30.0
"""Seconds `clear` may take (an administrative call that may walk the whole backend)."""


class BoundedCache(ResponseCache):
    """`inner` with each call under `asyncio.timeout` (`timeout` for reads, `set_timeout` for writes and
    deletes, `clear_timeout` for `clear`); whatever it raises, or its running out of time, becomes
    `CacheUnavailable`. After a failure the inner cache is left alone for RETRY_SHARED_AFTER seconds
    (calls raise `CacheUnavailable` at once and count as `skipped`), so an unreachable backend costs one
    call its timeout, not every call. The start of an outage is logged once as a warning, its end as
    info. `failures` counts the inner calls that failed, `timeouts` those of them that ran out of time;
    `on_error` hears of each (`failure`, `timeout` or `skipped`), for the metrics."""

    def __init__(
        self,
        inner: ResponseCache,
        *,
        timeout: float = TIMEOUT,
        set_timeout: float | None = None,
        clear_timeout: float = CLEAR_TIMEOUT,
        clock: Clock | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._inner = inner
        self._on_error = on_error
        self._timeout = timeout
        self._set_timeout = timeout if set_timeout is None else set_timeout
        self._clear_timeout = clear_timeout
        self._clock = clock or SystemClock()
        self._outage = Outage(
            _log,
            f"response cache unavailable; calls go on without it for {RETRY_SHARED_AFTER:g} s at a time",
            "response cache available again",
        )
        self.failures = 0
        self.timeouts = 0
        self.skipped = 0

    @property
    def degraded(self) -> bool:
        return self._outage.degraded

    async def get(self, key: str) -> CachedEntry | None:
        return await self._call(lambda: self._inner.get(key), self._timeout)

    async def get_many(self, keys: Sequence[str]) -> list[CachedEntry | None]:
        return await self._call(lambda: self._inner.get_many(keys), self._timeout)

    async def set(self, key: str, entry: CachedEntry, ttl: float | None) -> None:
        await self._call(lambda: self._inner.set(key, entry, ttl), self._set_timeout)

    async def delete(self, key: str) -> None:
        await self._call(lambda: self._inner.delete(key), self._set_timeout)

    async def clear(self) -> None:
        await self._call(self._inner.clear, self._clear_timeout)

    async def close(self) -> None:
        await self._inner.close()

    async def _call(self, call: Callable[[], Awaitable[T]], timeout: float) -> T:
        now = self._clock.monotonic()
        if not self._outage.use_shared(now):
            self.skipped += 1
            self._counted("skipped")
            raise CacheUnavailable("response cache left alone after a failure; retried shortly")
        bound = asyncio.timeout(timeout)
        try:
            async with bound:
                result = await call()
        except Exception as exc:
            self.failures += 1
            timed_out = bound.expired()
            self._counted("timeout" if timed_out else "failure")
            if timed_out:
                self.timeouts += 1
                unavailable = CacheUnavailable(f"response cache did not answer within {timeout:g} s")
            elif isinstance(exc, CacheUnavailable):
                unavailable = exc
            else:
                unavailable = CacheUnavailable(f"response cache failed: {exc!r}")
            self._outage.lost(self._clock.monotonic(), unavailable)
            if unavailable is exc:
                raise
            raise unavailable from exc
        self._outage.recovered()
        return result

    def _counted(self, kind: str) -> None:
        if self._on_error is not None:
            self._on_error(kind)
