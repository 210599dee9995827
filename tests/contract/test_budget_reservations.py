"""The BudgetReservations contract (ports/budget_reservations.py), held in memory, in the real Redis, and in
Redis with this process's counters to fall back on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from decimal import Decimal

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from adapters.cache.memory_budget_reservations import LAPSE_GRACE, WINDOW_GRACE, InMemoryBudgetReservations
from adapters.cache.redis_budget_reservations import IDLE_TTL, RedisBudgetReservations
from adapters.cache.resilient_budget_reservations import ResilientBudgetReservations
from domain.budgets import ALL_TIME, BudgetLine, Standing, Window
from ports.budget_reservations import BudgetReservations, BudgetsUnavailable
from tests.contract.redis_fleet import RedisFleet
from tests.contract.test_rate_limiter import unreachable_redis
from tests.contract.test_router_state import LaggingRedis

NOW = 1_800_000_020.0
HOUR = Window(1_800_000_000.0, 1_800_003_600.0)
NEXT_HOUR = Window(1_800_003_600.0, 1_800_007_200.0)
TTL = 600.0
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
def budgets(request: pytest.FixtureRequest) -> BudgetReservations:
    if request.param == "memory":
        return InMemoryBudgetReservations()
    shared = instance(request.getfixturevalue("redis_fleet"))
    if request.param == "redis":
        return shared
    return ResilientBudgetReservations(shared, InMemoryBudgetReservations())


def instance(fleet: RedisFleet) -> RedisBudgetReservations:
    """A gateway instance's counters, with its own client and a pool that makes a burst queue."""
    client = Redis(connection_pool=BlockingConnectionPool.from_url(fleet.url, max_connections=20))
    fleet.clients.append(client)
    return RedisBudgetReservations(client, fleet.prefix, timeout=BURST_TIMEOUT)


def line(subject: str = "key:a", limit: str | None = "10", window: Window = ALL_TIME) -> BudgetLine:
    return BudgetLine(subject, subject.split(":")[0], None if limit is None else Decimal(limit), window)


def usd(spent: str = "0", reserved: str = "0") -> Standing:
    return Standing(Decimal(spent), Decimal(reserved))


async def seeded(budgets: BudgetReservations, *lines: BudgetLine, spent: str = "0") -> list[BudgetLine]:
    for each in lines:
        await budgets.seed(each, Decimal(spent), now=NOW)
    return list(lines)


async def reserve(
    budgets: BudgetReservations, lines: Sequence[BudgetLine], amount: str, hold: str, now: float = NOW
) -> bool:
    return (await budgets.reserve(lines, Decimal(amount), hold=hold, ttl=TTL, now=now)).admitted


async def burst(fleet: Sequence[BudgetReservations], calls: int, lines: Sequence[BudgetLine]) -> int:
    reservations = await asyncio.gather(
        *(
            fleet[n % len(fleet)].reserve(lines, Decimal("1.00"), hold=f"call-{n}", ttl=TTL, now=NOW)
            for n in range(calls)
        )
    )
    return sum(reservation.admitted for reservation in reservations)


def test_only_counters_of_this_process_say_they_are(budgets: BudgetReservations) -> None:
    assert budgets.in_process == isinstance(budgets, InMemoryBudgetReservations)


async def test_a_reservation_on_unseeded_lines_names_them_and_reserves_nothing(
    budgets: BudgetReservations,
) -> None:
    key, team, user = line("key:a"), line("team:t"), line("user:u")
    await seeded(budgets, key)

    reservation = await budgets.reserve([key, team, user], Decimal(1), hold="h", ttl=TTL, now=NOW)

    assert (reservation.admitted, reservation.unseeded, reservation.standings) == (False, (1, 2), ())
    assert await budgets.standings([key, team, user], now=NOW) == [usd(), None, None]


async def test_a_seeded_budget_admits_and_counts_the_reservation(budgets: BudgetReservations) -> None:
    key, team = await seeded(budgets, line("key:a"), line("team:t", "100"), spent="2.50")

    reservation = await budgets.reserve([key, team], Decimal("1.25"), hold="h", ttl=TTL, now=NOW)

    assert reservation.admitted
    assert (reservation.refused, reservation.unseeded) == (None, ())
    assert reservation.standings == (usd("2.50", "1.25"), usd("2.50", "1.25"))
    assert await budgets.standings([key, team], now=NOW) == [usd("2.50", "1.25")] * 2


async def test_no_lines_admit_every_call(budgets: BudgetReservations) -> None:
    reservation = await budgets.reserve([], Decimal(5), hold="h", ttl=TTL, now=NOW)
    await budgets.settle([], Decimal(5), hold="h", now=NOW)

    assert reservation.admitted and reservation.standings == ()
    assert await budgets.standings([], now=NOW) == []


async def test_seeding_a_known_window_keeps_its_spend(budgets: BudgetReservations) -> None:
    [key] = await seeded(budgets, line(), spent="1")
    await reserve(budgets, [key], "2", "h")
    await budgets.settle([key], Decimal("0.5"), hold="h", now=NOW)

    await budgets.seed(key, Decimal(7), now=NOW)

    assert await budgets.standings([key], now=NOW) == [usd("1.5")]


async def test_room_of_exactly_zero_refuses(budgets: BudgetReservations) -> None:
    spent, reserved = line("key:spent"), line("key:reserved")
    await seeded(budgets, spent, spent="10")
    await seeded(budgets, reserved, spent="9")
    assert await reserve(budgets, [reserved], "1", "first")

    assert not await reserve(budgets, [spent], "0.01", "h")
    assert not await reserve(budgets, [reserved], "0.01", "h")


async def test_any_room_admits_a_call_even_one_estimated_above_it_so_a_budget_overspends_by_one_estimate(
    budgets: BudgetReservations,
) -> None:
    [key] = await seeded(budgets, line(), spent="9.75")

    assert await reserve(budgets, [key], "5", "big")
    assert not await reserve(budgets, [key], "0.01", "small")
    assert await budgets.standings([key], now=NOW) == [usd("9.75", "5")]


async def test_a_refusal_names_the_first_line_without_room_and_reserves_nothing_anywhere(
    budgets: BudgetReservations,
) -> None:
    key, team, user = await seeded(budgets, line("key:a", "100"), line("team:t", "5"), line("user:u", "1"))
    assert await reserve(budgets, [team, user], "5", "first")

    refused = await budgets.reserve([key, team, user], Decimal(1), hold="h", ttl=TTL, now=NOW)

    assert (refused.admitted, refused.refused, refused.unseeded) == (False, 1, ())
    assert refused.standings == (usd(), usd("0", "5"), usd("0", "5"))
    assert await budgets.standings([key, team, user], now=NOW) == [usd(), usd("0", "5"), usd("0", "5")]
    assert (await budgets.reserve([user, team], Decimal(1), hold="h", ttl=TTL, now=NOW)).refused == 0


async def test_settle_turns_the_reservation_into_the_real_cost(budgets: BudgetReservations) -> None:
    key, team = await seeded(budgets, line("key:a"), line("team:t"), spent="1")
    await reserve(budgets, [key, team], "2", "h")
    await reserve(budgets, [team], "3", "other")

    await budgets.settle([key, team], Decimal("0.30"), hold="h", now=NOW + 5)

    assert await budgets.standings([key, team], now=NOW + 5) == [usd("1.30"), usd("1.30", "3")]


async def test_a_second_settle_of_a_hold_or_one_of_an_unknown_hold_adds_nothing(
    budgets: BudgetReservations,
) -> None:
    [key] = await seeded(budgets, line())
    await reserve(budgets, [key], "2", "h")
    await budgets.settle([key], Decimal("0.30"), hold="h", now=NOW)

    await budgets.settle([key], Decimal("0.30"), hold="h", now=NOW)
    await budgets.settle([key], Decimal("0.30"), hold="never-reserved", now=NOW)

    assert await budgets.standings([key], now=NOW) == [usd("0.30")]


async def test_a_settle_never_creates_a_counter(budgets: BudgetReservations) -> None:
    key, team = line("key:a"), line("team:t")
    await seeded(budgets, key)
    await reserve(budgets, [key], "1", "h")

    await budgets.settle([key, team], Decimal(1), hold="h", now=NOW)

    assert await budgets.standings([key, team], now=NOW) == [usd("1"), None]


async def test_a_reservation_stops_counting_once_its_ttl_has_passed(budgets: BudgetReservations) -> None:
    [key] = await seeded(budgets, line(limit="1"))
    assert await reserve(budgets, [key], "1", "dead")

    assert await budgets.standings([key], now=NOW + TTL - 1) == [usd("0", "1")]
    assert not await reserve(budgets, [key], "1", "h", now=NOW + TTL - 1)
    assert await budgets.standings([key], now=NOW + TTL) == [usd()]
    assert await reserve(budgets, [key], "1", "alive", now=NOW + TTL)


async def test_a_settle_after_the_ttl_still_adds_the_cost_once(budgets: BudgetReservations) -> None:
    [key] = await seeded(budgets, line())
    await reserve(budgets, [key], "1", "slow")
    await reserve(budgets, [key], "1", "other", now=NOW + TTL + 10)  # the expired hold leaves the total

    await budgets.settle([key], Decimal("0.40"), hold="slow", now=NOW + TTL + 20)
    await budgets.settle([key], Decimal("0.40"), hold="slow", now=NOW + TTL + 30)

    assert await budgets.standings([key], now=NOW + TTL + 30) == [usd("0.40", "1")]


async def test_each_window_is_a_counter_of_its_own(budgets: BudgetReservations) -> None:
    this_hour, next_hour = line(window=HOUR), line(window=NEXT_HOUR)
    await seeded(budgets, this_hour, spent="10")
    assert not await reserve(budgets, [this_hour], "1", "h")

    later = NEXT_HOUR.start + 1
    assert (await budgets.reserve([next_hour], Decimal(1), hold="h", ttl=TTL, now=later)).unseeded == (0,)
    await budgets.seed(next_hour, Decimal(0), now=later)
    assert await reserve(budgets, [next_hour], "1", "h", now=later)

    assert await budgets.standings([this_hour, next_hour], now=later) == [usd("10"), usd("0", "1")]


async def test_a_soft_only_budget_never_refuses_but_counts(budgets: BudgetReservations) -> None:
    soft, key = await seeded(budgets, line("end_user:e", None), line("key:a", "1000"), spent="500")

    assert await reserve(budgets, [soft, key], "400", "first")
    assert await reserve(budgets, [key, soft], "400", "second")
    await budgets.settle([soft, key], Decimal(450), hold="first", now=NOW)

    assert await budgets.standings([soft], now=NOW) == [usd("950", "400")]


async def test_clear_forgets_every_counter(budgets: BudgetReservations) -> None:
    key, team = await seeded(budgets, line("key:a"), line("team:t", window=HOUR), spent="3")
    await reserve(budgets, [key, team], "1", "h")

    await budgets.clear()

    assert await budgets.standings([key, team], now=NOW) == [None, None]
    assert (await budgets.reserve([key], Decimal(1), hold="h2", ttl=TTL, now=NOW)).unseeded == (0,)


async def test_money_is_exact_to_the_picodollar_small_and_large(budgets: BudgetReservations) -> None:
    limit = "98765432109.876543210999"  # far above 2^63 picodollars
    tiny, large, edge = line("key:tiny", "0.000000000005"), line("org:large", limit), line("org:edge", limit)
    await seeded(budgets, tiny, spent="0.000000000002")
    await seeded(budgets, large, spent="12345678901.234567890123")
    await seeded(budgets, edge, spent="98765432109.876543210998")

    assert await reserve(budgets, [tiny, large], "0.000000000002", "a")
    assert await reserve(budgets, [tiny], "0.000000000001", "b")
    assert not await reserve(budgets, [tiny], "0.000000000001", "c")  # room exactly 0
    await budgets.settle([tiny, large], Decimal("0.000000000003"), hold="a", now=NOW)

    assert await budgets.standings([tiny, large], now=NOW) == [
        usd("0.000000000005", "0.000000000001"),
        usd("12345678901.234567890126"),
    ]
    assert await reserve(budgets, [edge], "1000", "last")
    assert not await reserve(budgets, [edge], "0.000000000001", "none")


async def test_a_concurrent_burst_admits_exactly_while_room_remains(budgets: BudgetReservations) -> None:
    key, team = await seeded(budgets, line("key:a", "10.00"), line("team:t", None))

    assert await burst([budgets], 200, [team, key]) == 10
    assert await budgets.standings([key], now=NOW) == [usd("0", "10")]


async def test_a_concurrent_burst_for_the_last_room_admits_one(budgets: BudgetReservations) -> None:
    [key] = await seeded(budgets, line("key:a", "10.00"), spent="9.99")

    assert await burst([budgets], 200, [key]) == 1


# Redis only: what a fleet of instances sharing one Redis relies on.


@pytest.mark.redis
async def test_instances_sharing_redis_admit_exactly_while_room_remains_together(
    redis_fleet: RedisFleet,
) -> None:
    fleet = [instance(redis_fleet) for _ in range(4)]
    key, last = line("key:a", "10.00"), line("key:last", "1")
    await fleet[0].seed(key, Decimal(0), now=NOW)
    await fleet[1].seed(last, Decimal("0.99"), now=NOW)

    assert await burst(fleet, 200, [key]) == 10
    assert await burst(fleet, 200, [last]) == 1
    assert await fleet[3].standings([key, last], now=NOW) == [usd("0", "10"), usd("0.99", "1")]


@pytest.mark.redis
async def test_every_key_expires_by_itself_windows_after_their_end_all_time_ones_when_idle(
    redis_fleet: RedisFleet,
) -> None:
    budgets = instance(redis_fleet)
    lines = await seeded(budgets, line("key:a"), line("team:t", window=HOUR))
    await reserve(budgets, lines, "1", "h")
    await reserve(budgets, lines, "1", "dead", now=NOW)
    await budgets.settle(lines, Decimal(1), hold="h", now=NOW)

    ttls = {key.decode(): await redis_fleet.admin.ttl(key) for key in await redis_fleet.keys()}
    assert len(ttls) == 4
    for key, ttl in ttls.items():
        expected = IDLE_TTL if ":0.0:" in key else HOUR.end + WINDOW_GRACE - NOW
        assert expected - 5 <= ttl <= expected, key


@pytest.mark.redis
async def test_an_unreachable_redis_raises_budgets_unavailable_quickly(redis_fleet: RedisFleet) -> None:
    budgets = RedisBudgetReservations(unreachable_redis(redis_fleet), redis_fleet.prefix)
    key = line()

    started = time.monotonic()
    for call in (
        budgets.reserve([key], Decimal(1), hold="h", ttl=TTL, now=NOW),
        budgets.seed(key, Decimal(0), now=NOW),
        budgets.settle([key], Decimal(1), hold="h", now=NOW),
        budgets.standings([key], now=NOW),
        budgets.clear(),
    ):
        with pytest.raises(BudgetsUnavailable) as raised:
            await call
        assert raised.value.__cause__ is not None
    assert time.monotonic() - started < 2.0


@pytest.mark.redis
async def test_with_redis_unreachable_the_resilient_counters_keep_counting_in_this_process(
    redis_fleet: RedisFleet,
) -> None:
    shared = RedisBudgetReservations(unreachable_redis(redis_fleet), redis_fleet.prefix)
    budgets = ResilientBudgetReservations(shared, InMemoryBudgetReservations())
    key = line(limit="2")

    assert (await budgets.reserve([key], Decimal(1), hold="a", ttl=TTL, now=NOW)).unseeded == (0,)
    await budgets.seed(key, Decimal("0.5"), now=NOW)
    assert await reserve(budgets, [key], "1", "a")
    assert await reserve(budgets, [key], "1", "b")
    assert not await reserve(budgets, [key], "1", "c")
    await budgets.settle([key], Decimal("0.25"), hold="a", now=NOW)

    assert await budgets.standings([key], now=NOW) == [usd("0.75", "1")]
    assert budgets.describe() == "memory (redis unreachable)"


@pytest.mark.redis
async def test_a_resilient_reservation_whose_reply_was_lost_is_settled_in_redis_too(
    redis_fleet: RedisFleet,
) -> None:
    client = LaggingRedis.from_url(redis_fleet.url)
    redis_fleet.clients.append(client)
    budgets = ResilientBudgetReservations(
        RedisBudgetReservations(client, redis_fleet.prefix, timeout=0.05), InMemoryBudgetReservations()
    )
    other = instance(redis_fleet)
    [key] = await seeded(other, line())
    await budgets.standings([key], now=NOW)  # the scripts are loaded: only the reply will lag
    await budgets.reserve([key], Decimal(1), hold="warm-up", ttl=TTL, now=NOW)
    await budgets.settle([key], Decimal(0), hold="warm-up", now=NOW)

    client.lag = 0.2
    reservation = await budgets.reserve([key], Decimal(1), hold="h", ttl=TTL, now=NOW)
    client.lag = 0.0
    assert reservation.unseeded == (0,)  # the local counters answered
    assert await other.standings([key], now=NOW) == [usd("0", "1")]  # yet the script ran
    await budgets.seed(key, Decimal(0), now=NOW)
    assert await reserve(budgets, [key], "1", "h")  # locally, during the outage

    await budgets.settle([key], Decimal("0.5"), hold="h", now=NOW + 10)

    assert await other.standings([key], now=NOW + 10) == [usd("0.5")]


# Memory only.


async def test_the_memory_counters_forget_windows_that_ended_long_ago() -> None:
    budgets = InMemoryBudgetReservations()
    for n in range(100):
        await budgets.seed(line(f"end_user:{n}", window=HOUR), Decimal(1), now=NOW)
    kept = await seeded(budgets, line("key:a"))

    later = HOUR.end + WINDOW_GRACE
    await budgets.reserve(kept, Decimal(1), hold="h", ttl=TTL, now=later)

    assert len(budgets._counters) == 1
    assert await budgets.standings([line("end_user:1", window=HOUR)], now=later) == [None]


async def test_the_memory_counters_forget_a_hold_lapsed_long_ago_and_count_only_live_ones() -> None:
    budgets = InMemoryBudgetReservations()
    [key] = await seeded(budgets, line(limit="100"))
    await reserve(budgets, [key], "1", "old")
    await reserve(budgets, [key], "2", "young", now=NOW + TTL - 1)
    await reserve(budgets, [key], "4", "re-held", now=NOW + 5)
    await reserve(budgets, [key], "8", "re-held", now=NOW + 6)  # the same hold again: its amount replaced

    assert await budgets.standings([key], now=NOW + 10) == [usd("0", "11")]
    await budgets.settle([key], Decimal("3"), hold="re-held", now=NOW + 10)
    assert await budgets.standings([key], now=NOW + 10) == [usd("3", "3")]
    assert await budgets.standings([key], now=NOW + TTL) == [usd("3", "2")]  # "old" stopped counting
    forgotten = NOW + TTL + LAPSE_GRACE
    await budgets.settle([key], Decimal("1"), hold="old", now=forgotten)  # past its grace: adds nothing
    await budgets.settle([key], Decimal("2"), hold="young", now=forgotten)

    assert await budgets.standings([key], now=forgotten) == [usd("5", "0")]
