"""Rate limits that survive their shared store going away: Redis while it answers, this process's own
counters while it does not. Requests never fail because the shared counters are unreachable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import structlog

from adapters.cache.outage import Outage
from domain.rate_limits import Admission, Quota
from ports.rate_limiter import LimiterUnavailable, RateLimiter

_log = structlog.get_logger("switchyard.rate_limits")


class ResilientRateLimiter(RateLimiter):
    """The shared counters, or the local ones while the shared store cannot be reached (logged once per
    outage, and shown by `degraded`). Limits then hold per process, not for the fleet. A call is released
    to the limiter that admitted it; a release the shared store misses loses its tokens, and its slots
    free themselves there (see the shared adapter)."""

    def __init__(self, shared: RateLimiter, local: RateLimiter) -> None:
        self._shared = shared
        self._local = local
        self._outage = Outage(
            _log,
            "shared rate-limit counters unreachable; counting in this process",
            "shared rate-limit counters reachable again",
        )
        self._admitted_locally: Counter[tuple[str, ...]] = Counter()
        """Calls in flight that the local counters admitted, per set of subjects (such calls are
        interchangeable: any of them may be the one released)."""

    @property
    def degraded(self) -> bool:
        return self._outage.degraded

    def describe(self) -> str:
        shared = self._shared.describe()
        return f"{self._local.describe()} ({shared} unreachable)" if self.degraded else shared

    async def acquire(self, quotas: Sequence[Quota], now: float) -> Admission:
        if self._outage.use_shared(now):
            try:
                admission = await self._shared.acquire(quotas, now)
            except LimiterUnavailable as exc:
                self._outage.lost(now, exc)
            else:
                self._outage.recovered()
                return admission
        admission = await self._local.acquire(quotas, now)
        if admission.admitted:
            self._admitted_locally[_subjects(quotas)] += 1
        return admission

    async def release(self, quotas: Sequence[Quota], tokens: int, now: float) -> None:
        subjects = _subjects(quotas)
        if subjects in self._admitted_locally:
            self._admitted_locally[subjects] -= 1
            if not self._admitted_locally[subjects]:
                del self._admitted_locally[subjects]  # bounded by the calls in flight
            await self._local.release(quotas, tokens, now)
            return
        try:
            await self._shared.release(quotas, tokens, now)
        except LimiterUnavailable as exc:
            self._outage.lost(now, exc)


def _subjects(quotas: Sequence[Quota]) -> tuple[str, ...]:
    return tuple(quota.subject for quota in quotas)
