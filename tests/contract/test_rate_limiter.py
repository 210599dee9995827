"""The RateLimiter contract (ports/rate_limiter.py), held in memory, in the real Redis, and in Redis with
this process's counters to fall back on."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.cache.redis_rate_limiter import IN_FLIGHT_TTL, RedisRateLimiter
from adapters.cache.resilient_rate_limiter import ResilientRateLimiter
from domain.rate_limits import Limit, Quota, Usage
from ports.rate_limiter import LimiterUnavailable, RateLimiter
from tests.contract.redis_fleet import RedisFleet
from tests.contract.test_router_state import LaggingRedis

NOW = 1_800_000_020.0
"""Twenty seconds into a one-minute window: forty before it resets."""
NEXT_WINDOW = NOW + 60
BURST_TIMEOUT = 2.0
"""Seconds a call may wait: a burst of 200 calls queues for the pool's connections, and what the suite
checks is that they are counted exactly, not how fast (a fallback to local counters would count twice)."""


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("resilient-redis", marks=pytest.mark.redis),
    ]
)
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return InMemoryRateLimiter()
    shared = instance(request.getfixturevalue("redis_fleet"))
    if request.param == "redis":
        return shared
    return ResilientRateLimiter(shared, InMemoryRateLimiter())


def instance(fleet: RedisFleet) -> RedisRateLimiter:
    """A gateway instance's limiter, with its own client and a pool that makes a burst queue, as the
    composition root's should (a plain pool refuses calls once it has 100 connections out)."""
    client = Redis(connection_pool=BlockingConnectionPool.from_url(fleet.url, max_connections=20))
    fleet.clients.append(client)
    return RedisRateLimiter(client, fleet.prefix, timeout=BURST_TIMEOUT)


def unreachable_redis(fleet: RedisFleet) -> Redis:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = Redis(port=closed_port, socket_connect_timeout=0.1, retry=Retry(NoBackoff(), 0))
    fleet.clients.append(client)
    return client


async def admitted(limiter: RateLimiter, quotas: Sequence[Quota], calls: int, now: float = NOW) -> int:
    return sum([(await limiter.acquire(quotas, now)).admitted for _ in range(calls)])


async def burst(limiters: Sequence[RateLimiter], calls: int, quotas: Sequence[Quota]) -> int:
    admissions = await asyncio.gather(
        *(limiters[i % len(limiters)].acquire(quotas, NOW) for i in range(calls))
    )
    return sum(admission.admitted for admission in admissions)


async def in_flight(limiter: RateLimiter, subject: str, now: float = NOW) -> int:
    """The calls in flight on `subject`, read by a call admitted on it and released again."""
    probe = [Quota(subject, "probe")]
    admission = await limiter.acquire(probe, now)
    await limiter.release(probe, 0, now)
    return admission.usage[0].in_flight - 1


def test_only_counters_of_this_process_say_they_are(limiter: RateLimiter) -> None:
    assert limiter.in_process == isinstance(limiter, InMemoryRateLimiter)


async def test_rpm_admits_exactly_the_limit_then_refuses_naming_the_quota_and_the_reset(
    limiter: RateLimiter,
) -> None:
    key = Quota("key:a", "key", rpm=3)
    assert await admitted(limiter, [key], 3) == 3

    refused = await limiter.acquire([key], NOW)

    assert not refused.admitted
    assert (refused.refused_by, refused.refused_limit) == (key, Limit.REQUESTS)
    assert refused.reset_seconds == refused.retry_after() == 40.0
    assert refused.usage == (Usage(key, requests=3, tokens=0, in_flight=3),)


async def test_the_next_window_admits_again(limiter: RateLimiter) -> None:
    key = Quota("key:a", "key", rpm=2)
    await admitted(limiter, [key], 3)

    admission = await limiter.acquire([key], NEXT_WINDOW)

    assert admission.admitted
    assert admission.usage == (Usage(key, requests=1, tokens=0, in_flight=3),)
    assert admission.reset_seconds == 40.0


async def test_tpm_refuses_once_the_windows_tokens_reach_the_limit(limiter: RateLimiter) -> None:
    key = Quota("key:a", "key", tpm=100)
    assert (await limiter.acquire([key], NOW)).admitted
    await limiter.release([key], 99, NOW)
    assert (await limiter.acquire([key], NOW)).admitted
    await limiter.release([key], 1, NOW)

    refused = await limiter.acquire([key], NOW + 30)

    assert (refused.refused_by, refused.refused_limit) == (key, Limit.TOKENS)
    assert refused.reset_seconds == 10.0
    assert refused.usage == (Usage(key, requests=2, tokens=100, in_flight=0),)
    assert (await limiter.acquire([key], NEXT_WINDOW)).admitted


async def test_tokens_count_in_the_window_the_call_ended_in(limiter: RateLimiter) -> None:
    key = Quota("key:a", "key", tpm=100)
    await limiter.acquire([key], NOW)
    await limiter.release([key], 150, NEXT_WINDOW)

    refused = await limiter.acquire([key], NEXT_WINDOW)

    assert refused.refused_limit is Limit.TOKENS
    assert refused.usage == (Usage(key, requests=0, tokens=150, in_flight=0),)


async def test_max_parallel_refuses_while_the_limit_is_in_flight_and_admits_after_a_release(
    limiter: RateLimiter,
) -> None:
    key = Quota("key:a", "key", max_parallel=2)
    assert await admitted(limiter, [key], 2) == 2

    refused = await limiter.acquire([key], NOW)
    assert (refused.refused_by, refused.refused_limit) == (key, Limit.PARALLEL)
    assert refused.retry_after() == 1.0
    assert not (await limiter.acquire([key], NEXT_WINDOW)).admitted

    await limiter.release([key], 10, NEXT_WINDOW)
    assert (await limiter.acquire([key], NEXT_WINDOW)).admitted


async def test_max_parallel_is_checked_before_rpm_and_rpm_before_tpm(limiter: RateLimiter) -> None:
    key = Quota("key:a", "key", rpm=1, tpm=1, max_parallel=1)
    await limiter.acquire([key], NOW)
    assert (await limiter.acquire([key], NOW)).refused_limit is Limit.PARALLEL

    await limiter.release([key], 5, NOW)
    assert (await limiter.acquire([key], NOW)).refused_limit is Limit.REQUESTS


async def test_a_call_is_admitted_only_if_every_quota_has_room_and_a_refused_one_counts_nowhere(
    limiter: RateLimiter,
) -> None:
    key, team = Quota("key:a", "key", rpm=5), Quota("team:t", "team", rpm=1, max_parallel=5)
    assert (await limiter.acquire([key, team], NOW)).admitted

    refused = await limiter.acquire([key, team], NOW)
    assert (refused.refused_by, refused.refused_limit) == (team, Limit.REQUESTS)
    assert refused.usage == (Usage(key, 1, 0, 1), Usage(team, 1, 0, 1))

    alone = await limiter.acquire([key], NOW)
    assert alone.usage == (Usage(key, requests=2, tokens=0, in_flight=2),)


async def test_the_first_quota_without_room_is_the_one_named(limiter: RateLimiter) -> None:
    user, team = Quota("user:u", "user", rpm=1), Quota("team:t", "team", rpm=1)
    await limiter.acquire([user, team], NOW)

    assert (await limiter.acquire([user, team], NOW)).refused_by == user
    assert (await limiter.acquire([team, user], NOW)).refused_by == team


async def test_quotas_are_counted_per_subject(limiter: RateLimiter) -> None:
    key = Quota("key:a", "key", rpm=10)
    gpt = Quota("key:a:model:gpt", "key for model gpt", rpm=1)
    claude = Quota("key:a:model:claude", "key for model claude", rpm=1)
    assert (await limiter.acquire([key, gpt], NOW)).admitted
    assert (await limiter.acquire([key, claude], NOW)).admitted

    refused = await limiter.acquire([key, gpt], NOW)
    assert refused.refused_by == gpt
    assert (await limiter.acquire([Quota("key:b", "key", rpm=1)], NOW)).admitted
    assert (await limiter.acquire([key], NOW)).usage == (Usage(key, 3, 0, 3),)


async def test_the_admission_reports_each_quotas_usage_with_the_call_counted(limiter: RateLimiter) -> None:
    key = Quota("key:a", "key", rpm=10, tpm=1000, max_parallel=5)
    team = Quota("team:t", "team", tpm=500)
    await limiter.acquire([key], NOW)
    await limiter.acquire([key, team], NOW)
    await limiter.release([key, team], 40, NOW)

    admission = await limiter.acquire([key, team], NOW + 1)

    assert admission.admitted
    assert admission.refused_by is None and admission.refused_limit is None
    assert admission.usage == (Usage(key, 3, 40, 2), Usage(team, 2, 40, 1))
    assert admission.reset_seconds == 39.0


async def test_no_quotas_admit_every_call(limiter: RateLimiter) -> None:
    admission = await limiter.acquire([], NOW)
    await limiter.release([], 10, NOW)

    assert admission.admitted
    assert admission.usage == ()


async def test_release_never_drives_in_flight_below_zero(limiter: RateLimiter) -> None:
    key = Quota("key:a", "key", max_parallel=1)
    await limiter.release([key], 0, NOW)
    await limiter.acquire([key], NOW)
    await limiter.release([key], 0, NOW)
    await limiter.release([key], 0, NOW)

    first = await limiter.acquire([key], NOW)
    assert first.admitted
    assert first.usage[0].in_flight == 1
    assert not (await limiter.acquire([key], NOW)).admitted


@pytest.mark.parametrize(
    "quota",
    [Quota("key:a", "key", rpm=37), Quota("key:a", "key", max_parallel=37)],
    ids=["rpm", "parallel"],
)
async def test_a_concurrent_burst_admits_exactly_the_limit(limiter: RateLimiter, quota: Quota) -> None:
    assert await burst([limiter], 200, [quota, Quota("team:t", "team")]) == 37
    assert await in_flight(limiter, "key:a") == 37


# Redis only: what a fleet of instances sharing one Redis relies on.


@pytest.mark.redis
@pytest.mark.parametrize(
    "quota",
    [Quota("key:a", "key", rpm=37), Quota("key:a", "key", max_parallel=37)],
    ids=["rpm", "parallel"],
)
async def test_instances_sharing_redis_admit_exactly_the_limit_together(
    redis_fleet: RedisFleet, quota: Quota
) -> None:
    fleet = [instance(redis_fleet) for _ in range(4)]

    assert await burst(fleet, 200, [Quota("team:t", "team"), quota]) == 37
    assert await in_flight(fleet[0], "key:a") == await in_flight(fleet[3], "key:a") == 37


@pytest.mark.redis
async def test_each_instance_releases_only_its_own_calls(redis_fleet: RedisFleet) -> None:
    first, second = (instance(redis_fleet) for _ in range(2))
    key = Quota("key:a", "key")
    await first.acquire([key], NOW)
    await second.acquire([key], NOW)

    await second.release([key], 0, NOW)
    await second.release([key], 0, NOW)

    assert await in_flight(first, "key:a") == 1


@pytest.mark.redis
async def test_the_calls_of_an_instance_that_died_stop_counting_after_the_in_flight_ttl(
    redis_fleet: RedisFleet,
) -> None:
    dead, alive = (instance(redis_fleet) for _ in range(2))
    key = Quota("key:a", "key", max_parallel=2)
    assert await admitted(dead, [key], 2) == 2
    assert not (await alive.acquire([key], NOW + 600)).admitted

    later = NOW + IN_FLIGHT_TTL + 1
    assert await admitted(alive, [key], 3, now=later) == 2


@pytest.mark.redis
async def test_an_acquire_whose_reply_was_lost_stops_counting_with_the_next_call(
    redis_fleet: RedisFleet,
) -> None:
    client = LaggingRedis.from_url(redis_fleet.url)
    redis_fleet.clients.append(client)
    limiter = RedisRateLimiter(client, redis_fleet.prefix, timeout=0.05)
    other = instance(redis_fleet)
    key = Quota("key:a", "key", max_parallel=1)
    await limiter.acquire([Quota("key:b", "key")], NOW)  # the script is loaded: only the reply will lag

    client.lag = 0.2
    with pytest.raises(LimiterUnavailable):
        await limiter.acquire([key], NOW)
    client.lag = 0.0
    assert await in_flight(other, "key:a") == 1  # it ran, but its caller was told it did not

    assert (await limiter.acquire([key], NOW)).admitted  # the lost call was removed first
    await limiter.release([key], 0, NOW)
    assert await in_flight(limiter, "key:a") == 0


@pytest.mark.redis
async def test_every_key_expires_by_itself(redis_fleet: RedisFleet) -> None:
    limiter = instance(redis_fleet)
    quotas = [Quota("key:a", "key", rpm=5), Quota("team:t", "team", tpm=5)]
    await limiter.acquire(quotas, NOW)
    await limiter.acquire(quotas, NOW)
    await limiter.release(quotas, 3, NOW)

    keys = await redis_fleet.keys()
    assert len(keys) == 4
    assert [key for key in keys if await redis_fleet.admin.ttl(key) <= 0] == []


@pytest.mark.redis
async def test_an_unreachable_redis_raises_limiter_unavailable_quickly(redis_fleet: RedisFleet) -> None:
    limiter = RedisRateLimiter(unreachable_redis(redis_fleet), redis_fleet.prefix)
    key = Quota("key:a", "key", rpm=1)

    started = time.monotonic()
    for call in (limiter.acquire([key], NOW), limiter.release([key], 5, NOW)):
        with pytest.raises(LimiterUnavailable) as raised:
            await call
        assert raised.value.__cause__ is not None
    assert time.monotonic() - started < 1.0


@pytest.mark.redis
async def test_with_redis_unreachable_the_resilient_limiter_keeps_counting_in_this_process(
    redis_fleet: RedisFleet,
) -> None:
    shared = RedisRateLimiter(unreachable_redis(redis_fleet), redis_fleet.prefix)
    limiter = ResilientRateLimiter(shared, InMemoryRateLimiter())
    key = Quota("key:a", "key", rpm=2)

    assert await admitted(limiter, [key], 3) == 2
    assert (await limiter.acquire([key], NOW)).refused_limit is Limit.REQUESTS
    await limiter.release([key], 10, NOW)
    assert limiter.describe() == "memory (redis unreachable)"


# Memory only.


async def test_the_memory_limiter_forgets_subjects_once_they_have_nothing_to_count() -> None:
    limiter = InMemoryRateLimiter()
    for n in range(1000):
        await limiter.acquire([Quota(f"end_user:{n}", "end user", rpm=1)], NOW)
        await limiter.release([Quota(f"end_user:{n}", "end user", rpm=1)], 1, NOW)
    busy = Quota("key:a", "key")
    await limiter.acquire([busy], NOW)

    await limiter.acquire([Quota("key:b", "key")], NOW + 120)

    assert len(limiter._subjects) == 2  # the one still in flight and the one just counted
