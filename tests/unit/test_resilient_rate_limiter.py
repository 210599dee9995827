"""Rate limits that keep holding, per process, when the shared counters are unreachable."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.cache.outage import RETRY_SHARED_AFTER
from adapters.cache.resilient_rate_limiter import ResilientRateLimiter
from domain.rate_limits import Admission, Limit, Quota
from ports.rate_limiter import LimiterUnavailable, RateLimiter

NOW = 1_800_000_020.0
LATER = NOW + RETRY_SHARED_AFTER + 1
KEY = Quota("key:a", "key", rpm=2, max_parallel=1)


class FlakyRateLimiter(InMemoryRateLimiter):
    """In-memory counters that can be switched to behave like an unreachable store."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def describe(self) -> str:
        return "redis"

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise LimiterUnavailable("connection refused")

    async def acquire(self, quotas: Sequence[Quota], now: float) -> Admission:
        self._check()
        return await super().acquire(quotas, now)

    async def release(self, quotas: Sequence[Quota], tokens: int, now: float) -> None:
        self._check()
        await super().release(quotas, tokens, now)


def _limiters() -> tuple[FlakyRateLimiter, InMemoryRateLimiter, ResilientRateLimiter]:
    shared, local = FlakyRateLimiter(), InMemoryRateLimiter()
    return shared, local, ResilientRateLimiter(shared, local)


async def _in_flight(limiter: RateLimiter, now: float = NOW) -> int:
    probe = [Quota(KEY.subject, "probe")]
    admission = await limiter.acquire(probe, now)
    await limiter.release(probe, 0, now)
    return admission.usage[0].in_flight - 1


async def test_an_unreachable_store_never_fails_a_call_and_limits_still_hold_in_the_process() -> None:
    shared, _, limiter = _limiters()
    shared.down = True

    first = await limiter.acquire([KEY], NOW)
    second = await limiter.acquire([KEY], NOW)

    assert first.admitted
    assert second.refused_limit is Limit.PARALLEL
    assert limiter.degraded
    assert limiter.describe() == "memory (redis unreachable)"


async def test_the_shared_counters_are_used_while_they_answer() -> None:
    shared, local, limiter = _limiters()

    assert (await limiter.acquire([KEY], NOW)).admitted

    assert await _in_flight(shared) == 1
    assert await _in_flight(local) == 0
    assert limiter.describe() == "redis"


async def test_a_call_admitted_locally_is_released_locally_even_once_the_store_is_back() -> None:
    shared, local, limiter = _limiters()
    shared.down = True
    await limiter.acquire([KEY], NOW)
    shared.down = False
    shared_calls = shared.calls

    await limiter.release([KEY], 30, LATER)

    assert shared.calls == shared_calls
    assert await _in_flight(local) == 0


async def test_calls_admitted_by_either_leave_nothing_in_flight_once_all_are_released() -> None:
    shared, local, limiter = _limiters()
    shared.down = True
    assert (await limiter.acquire([KEY], NOW)).admitted
    shared.down = False
    assert (await limiter.acquire([KEY], LATER)).admitted
    assert not limiter.degraded

    await limiter.release([KEY], 0, LATER)
    await limiter.release([KEY], 0, LATER)

    assert await _in_flight(local, LATER) == 0
    assert await _in_flight(shared, LATER) == 0


async def test_a_release_the_store_misses_never_fails_and_frees_no_local_slot() -> None:
    shared, local, limiter = _limiters()
    await limiter.acquire([KEY], NOW)
    shared.down = True
    await local.acquire([KEY], NOW)

    await limiter.release([KEY], 10, NOW)

    assert limiter.degraded
    assert await _in_flight(local) == 1


async def test_the_store_is_left_alone_for_a_while_then_tried_again() -> None:
    shared, _, limiter = _limiters()
    shared.down = True
    await limiter.acquire([KEY], NOW)
    calls_while_down = shared.calls

    await limiter.acquire([KEY], NOW + 1)
    shared.down = False
    await limiter.acquire([KEY], LATER)

    assert shared.calls == calls_while_down + 1
    assert not limiter.degraded
