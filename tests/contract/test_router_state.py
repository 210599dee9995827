"""The RouterState contract (ports/router_state.py), held in memory and in the real Redis."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from adapters.cache.redis_router_state import IN_FLIGHT_TTL, RedisRouterState
from domain.deployments import Limits
from domain.router_state import IDLE, CallOutcome, CooldownReason, DeploymentLoad, FailureKind
from ports.router_state import RouterState, StateUnavailable
from tests.contract.redis_fleet import RedisFleet

NOW = 1_800_000_005.0
"""Five seconds into a wall-clock minute."""
NEXT_MINUTE = NOW + 60
NO_LIMITS = Limits()


async def load(state: RouterState, deployment_id: str = "a", now: float = NOW) -> DeploymentLoad:
    return (await state.snapshot([deployment_id], now))[deployment_id]


async def begin_all(states: list[RouterState], calls: int, limits: Limits) -> int:
    admitted = await asyncio.gather(
        *(states[i % len(states)].try_begin("a", limits, NOW) for i in range(calls))
    )
    return sum(admitted)


async def test_a_deployment_never_seen_reads_as_idle(router_state: RouterState) -> None:
    assert await router_state.snapshot(["a", "b"], NOW) == {"a": IDLE, "b": IDLE}
    assert await router_state.snapshot([], NOW) == {}


async def test_an_admitted_call_counts_in_flight_and_in_the_minutes_requests(
    router_state: RouterState,
) -> None:
    assert await router_state.try_begin("a", NO_LIMITS, NOW)
    assert await router_state.try_begin("a", NO_LIMITS, NOW)

    assert await load(router_state) == DeploymentLoad(in_flight=2, minute_requests=2)


async def test_finishing_releases_the_slot_adds_tokens_and_counts_failures(router_state: RouterState) -> None:
    for _ in range(3):
        await router_state.try_begin("a", NO_LIMITS, NOW)

    assert await router_state.finish("a", CallOutcome(tokens=100), NOW) == 0
    assert await router_state.finish("a", CallOutcome(tokens=20, failed=True), NOW) == 1
    assert await router_state.finish("a", CallOutcome(failed=True), NOW) == 2

    loaded = await load(router_state)
    assert (loaded.in_flight, loaded.minute_requests) == (0, 3)
    assert (loaded.minute_tokens, loaded.minute_failures) == (120, 2)


async def test_minute_counters_read_as_zero_once_the_minute_is_over(router_state: RouterState) -> None:
    await router_state.try_begin("a", NO_LIMITS, NOW)
    await router_state.try_begin("a", NO_LIMITS, NOW)
    await router_state.finish("a", CallOutcome(tokens=50, failed=True), NOW)

    assert await load(router_state, now=NEXT_MINUTE) == DeploymentLoad(in_flight=1)
    assert await router_state.finish("a", CallOutcome(failed=True), NEXT_MINUTE) == 1


async def test_in_flight_never_goes_below_zero(router_state: RouterState) -> None:
    await router_state.finish("a", CallOutcome(), NOW)
    await router_state.try_begin("a", NO_LIMITS, NOW)
    await router_state.finish("a", CallOutcome(), NOW)
    await router_state.finish("a", CallOutcome(), NOW)

    assert (await load(router_state)).in_flight == 0
    assert await router_state.try_begin("a", Limits(max_parallel_requests=1), NOW)
    assert (await load(router_state)).in_flight == 1


async def test_rpm_refuses_at_the_limit_and_admits_again_next_minute(router_state: RouterState) -> None:
    limits = Limits(rpm=2)
    assert await router_state.try_begin("a", limits, NOW)
    assert await router_state.try_begin("a", limits, NOW)
    await router_state.finish("a", CallOutcome(), NOW)

    assert not await router_state.try_begin("a", limits, NOW + 50)
    assert await router_state.try_begin("a", limits, NEXT_MINUTE)


async def test_tpm_refuses_once_the_minutes_tokens_reach_it_and_admits_next_minute(
    router_state: RouterState,
) -> None:
    limits = Limits(tpm=1000)
    assert await router_state.try_begin("a", limits, NOW)
    await router_state.finish("a", CallOutcome(tokens=999), NOW)
    assert await router_state.try_begin("a", limits, NOW)
    await router_state.finish("a", CallOutcome(tokens=1), NOW)

    assert not await router_state.try_begin("a", limits, NOW)
    assert await router_state.try_begin("a", limits, NEXT_MINUTE)


async def test_max_parallel_refuses_at_the_limit_until_a_call_finishes(router_state: RouterState) -> None:
    limits = Limits(max_parallel_requests=2)
    assert await router_state.try_begin("a", limits, NOW)
    assert await router_state.try_begin("a", limits, NOW)

    assert not await router_state.try_begin("a", limits, NOW)
    assert not await router_state.try_begin("a", limits, NEXT_MINUTE)
    await router_state.finish("a", CallOutcome(), NEXT_MINUTE)
    assert await router_state.try_begin("a", limits, NEXT_MINUTE)


async def test_a_refused_call_counts_nothing(router_state: RouterState) -> None:
    await router_state.try_begin("a", Limits(rpm=1), NOW)
    before = await load(router_state)

    assert not await router_state.try_begin("a", Limits(rpm=1), NOW)
    assert not await router_state.try_begin("a", Limits(max_parallel_requests=1), NOW)
    assert await load(router_state) == before == DeploymentLoad(in_flight=1, minute_requests=1)


async def test_limits_are_per_deployment(router_state: RouterState) -> None:
    limits = Limits(rpm=1, max_parallel_requests=1)
    assert await router_state.try_begin("a", limits, NOW)
    assert await router_state.try_begin("b", limits, NOW)
    assert not await router_state.try_begin("a", limits, NOW)


@pytest.mark.parametrize(
    "limits", [Limits(rpm=10), Limits(max_parallel_requests=10)], ids=["rpm", "parallel"]
)
async def test_concurrent_begins_admit_exactly_the_limit(router_state: RouterState, limits: Limits) -> None:
    assert await begin_all([router_state], 50, limits) == 10
    assert (await load(router_state)).in_flight == 10


async def test_a_cooldown_hides_the_deployment_until_it_expires(router_state: RouterState) -> None:
    await router_state.cool_down("a", NOW + 30, NOW)

    loaded = await load(router_state, now=NOW + 10)
    assert loaded.cooldown_until == NOW + 30
    assert loaded.cooling_down(NOW + 10)
    assert await load(router_state, now=NOW + 30) == IDLE
    assert await load(router_state, "b") == IDLE


async def test_the_latest_cooldown_wins_and_one_in_the_past_ends_it(router_state: RouterState) -> None:
    await router_state.cool_down("a", NOW + 30, NOW)
    await router_state.cool_down("a", NOW + 5, NOW)
    assert (await load(router_state)).cooldown_until == NOW + 5

    await router_state.cool_down("a", NOW, NOW)
    assert (await load(router_state)).cooldown_until is None


async def test_a_cooldown_keeps_its_reason_until_it_ends(router_state: RouterState) -> None:
    timeouts = CooldownReason(FailureKind.TIMEOUT, 408)
    await router_state.cool_down("a", NOW + 30, NOW, timeouts)
    await router_state.cool_down("b", NOW + 30, NOW)

    assert await router_state.snapshot(["a", "b"], NOW + 10) == {
        "a": DeploymentLoad(cooldown_until=NOW + 30, cooldown_reason=timeouts),
        "b": DeploymentLoad(cooldown_until=NOW + 30),
    }
    assert await load(router_state, now=NOW + 30) == IDLE


async def test_the_latest_cooldown_brings_its_own_reason(router_state: RouterState) -> None:
    await router_state.cool_down("a", NOW + 30, NOW, CooldownReason(FailureKind.RATE_LIMIT, 429))
    await router_state.cool_down("a", NOW + 5, NOW, CooldownReason(FailureKind.SERVER_ERROR, 503))
    assert (await load(router_state)).cooldown_reason == CooldownReason(FailureKind.SERVER_ERROR, 503)

    await router_state.cool_down("a", NOW, NOW, CooldownReason(FailureKind.AUTH, 401))
    assert await load(router_state) == IDLE


async def test_latency_averages_start_at_the_first_sample_and_move_toward_new_ones(
    router_state: RouterState,
) -> None:
    for _ in range(3):
        await router_state.try_begin("a", NO_LIMITS, NOW)

    await router_state.finish("a", CallOutcome(latency=1.0), NOW)
    assert await load(router_state) == DeploymentLoad(in_flight=2, minute_requests=3, latency=1.0)
    await router_state.finish("a", CallOutcome(latency=2.0, first_token_latency=0.5), NOW)
    first = await load(router_state)
    await router_state.finish("a", CallOutcome(latency=2.0, first_token_latency=0.1), NOW)
    second = await load(router_state)

    assert first.latency is not None and second.latency is not None
    assert 1.0 < first.latency < second.latency < 2.0
    assert first.first_token_latency == 0.5
    assert second.first_token_latency is not None and 0.1 < second.first_token_latency < 0.5


async def test_a_snapshot_reads_many_deployments_at_once(router_state: RouterState) -> None:
    await router_state.try_begin("a", NO_LIMITS, NOW)
    await router_state.try_begin("b", NO_LIMITS, NOW)
    await router_state.finish("b", CallOutcome(tokens=7, latency=0.25), NOW)
    await router_state.cool_down("c", NOW + 60, NOW)

    assert await router_state.snapshot(["a", "b", "c", "d"], NOW) == {
        "a": DeploymentLoad(in_flight=1, minute_requests=1),
        "b": DeploymentLoad(minute_requests=1, minute_tokens=7, latency=0.25),
        "c": DeploymentLoad(cooldown_until=NOW + 60),
        "d": IDLE,
    }


# Redis only: what a fleet of instances sharing one Redis relies on.


@pytest.mark.redis
@pytest.mark.parametrize(
    "limits", [Limits(rpm=10), Limits(max_parallel_requests=10)], ids=["rpm", "parallel"]
)
async def test_two_instances_sharing_redis_admit_exactly_the_limit_together(
    redis_fleet: RedisFleet, limits: Limits
) -> None:
    first, second = redis_fleet.instance(), redis_fleet.instance()

    assert await begin_all([first, second], 50, limits) == 10
    assert (await load(first)).in_flight == (await load(second)).in_flight == 10


@pytest.mark.redis
async def test_each_instance_releases_only_its_own_calls(redis_fleet: RedisFleet) -> None:
    first, second = redis_fleet.instance(), redis_fleet.instance()
    await first.try_begin("a", NO_LIMITS, NOW)
    await second.try_begin("a", NO_LIMITS, NOW)

    await second.finish("a", CallOutcome(), NOW)
    await second.finish("a", CallOutcome(), NOW)
    assert (await load(first)).in_flight == 1


@pytest.mark.redis
async def test_the_calls_of_an_instance_that_died_stop_counting_after_the_in_flight_ttl(
    redis_fleet: RedisFleet,
) -> None:
    dead, alive = redis_fleet.instance(), redis_fleet.instance()
    limits = Limits(max_parallel_requests=2)
    assert await dead.try_begin("a", limits, NOW)
    assert await dead.try_begin("a", limits, NOW)
    assert not await alive.try_begin("a", limits, NOW + 60)

    later = NOW + IN_FLIGHT_TTL + 1
    assert (await load(alive, now=later)).in_flight == 0
    assert await alive.try_begin("a", limits, later)
    assert await alive.try_begin("a", limits, later)


class LaggingRedis(Redis):
    """Runs each command, then holds its reply back for `lag` seconds: a reply lost to a timeout."""

    lag = 0.0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        reply = await super().execute_command(*args, **options)
        await asyncio.sleep(self.lag)
        return reply


@pytest.mark.redis
async def test_a_begin_whose_reply_was_lost_stops_counting_with_the_next_call(
    redis_fleet: RedisFleet,
) -> None:
    client = LaggingRedis.from_url(redis_fleet.url)
    redis_fleet.clients.append(client)
    state = RedisRouterState(client, redis_fleet.prefix, timeout=0.05)

    client.lag = 0.2
    with pytest.raises(StateUnavailable):
        await state.try_begin("a", NO_LIMITS, NOW)
    client.lag = 0.0
    assert (await load(state)).in_flight == 1  # it ran, but its caller was told it did not

    assert await state.try_begin("a", Limits(max_parallel_requests=1), NOW)
    await state.finish("a", CallOutcome(), NOW)
    assert (await load(state)).in_flight == 0


@pytest.mark.redis
async def test_a_finish_that_timed_out_before_reaching_redis_is_resent_with_the_next_call(
    redis_fleet: RedisFleet,
) -> None:
    # The only connection is held by a blocking pop, so the finish times out waiting for it.
    client = Redis(connection_pool=BlockingConnectionPool.from_url(redis_fleet.url, max_connections=1))
    redis_fleet.clients.append(client)
    state = RedisRouterState(client, redis_fleet.prefix, timeout=0.05)
    assert await state.try_begin("a", NO_LIMITS, NOW)
    blocked = asyncio.ensure_future(client.blpop([f"{redis_fleet.prefix}nothing"], timeout=0.3))
    await asyncio.sleep(0.01)

    with pytest.raises(StateUnavailable) as raised:
        await state.finish("a", CallOutcome(), NOW)
    assert isinstance(raised.value.__cause__, TimeoutError)
    await blocked
    assert (await load(state)).in_flight == 1

    assert not await state.try_begin("a", Limits(rpm=1), NOW)
    assert (await load(state)).in_flight == 0


@pytest.mark.redis
async def test_every_key_expires_by_itself(redis_fleet: RedisFleet) -> None:
    state = redis_fleet.instance()
    await state.try_begin("a", Limits(rpm=5), NOW)
    await state.try_begin("a", Limits(rpm=5), NOW)
    await state.finish("a", CallOutcome(tokens=3, latency=0.5, first_token_latency=0.1, failed=True), NOW)
    await state.cool_down("b", NOW + 30, NOW)

    client = redis_fleet.admin
    keys = await redis_fleet.keys()
    assert len(keys) == 4
    assert [key for key in keys if await client.ttl(key) <= 0] == []


@pytest.mark.redis
async def test_an_unreachable_redis_raises_state_unavailable_from_every_method(
    redis_fleet: RedisFleet,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = Redis(port=closed_port, socket_connect_timeout=0.1, retry=Retry(NoBackoff(), 0))
    redis_fleet.clients.append(client)
    state = RedisRouterState(client, redis_fleet.prefix)

    calls = [
        state.snapshot(["a"], NOW),
        state.try_begin("a", Limits(rpm=1), NOW),
        state.finish("a", CallOutcome(), NOW),
        state.cool_down("a", NOW + 5, NOW),
        state.cool_down("a", NOW, NOW),
    ]
    for call in calls:
        with pytest.raises(StateUnavailable) as raised:
            await call
        assert raised.value.__cause__ is not None
