"""The ResponseCache contract (ports/response_cache.py), held in memory, in the real Redis, in memory in
front of Redis, in a SQLite file, and bounded in time; then what each adapter adds to it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.cache.bounded_cache import BoundedCache
from adapters.cache.codec import encode_entry
from adapters.cache.disk_response_cache import DiskResponseCache
from adapters.cache.dual_cache import DualCache
from adapters.cache.memory_response_cache import InMemoryResponseCache
from adapters.cache.outage import RETRY_SHARED_AFTER
from adapters.cache.redis_response_cache import RedisResponseCache
from domain.caching import CachedEntry, CachedReply, CachedVector
from domain.completions import Choice, CompletionResponse, FinishReason
from domain.messages import Message, Role
from ports.response_cache import CacheUnavailable, ResponseCache
from tests.contract.redis_fleet import RedisFleet
from tests.contract.test_rate_limiter import unreachable_redis
from tests.fakes import FakeClock
from tests.unit.test_cache_codec import full_reply

TTL = 0.2
"""Seconds a short-lived entry lives: real time for Redis, so short enough to keep the suite fast."""


def reply(text: str, stored_at: float = 1_700_000_000.0) -> CachedReply:
    message = Message(Role.ASSISTANT, text)
    response = CompletionResponse(
        f"r-{text}", 1_700_000_000, "gpt-x", (Choice(0, message, FinishReason.STOP),)
    )
    return CachedReply(response, stored_at, deployment_id="d1")


class Backend:
    """Where one adapter keeps its entries: `open(name)` is a cache of its own namespace there (a Redis
    prefix, a file), `pass_time` lets entries age (a fake clock, and real time where Redis keeps it)."""

    real_time = False

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.opened: list[ResponseCache] = []

    def make(self, name: str) -> ResponseCache:
        raise NotImplementedError

    def open(self, name: str = "a") -> ResponseCache:
        cache = self.make(name)
        self.opened.append(cache)
        return cache

    async def pass_time(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self.real_time:
            await asyncio.sleep(seconds)

    async def close(self) -> None:
        for cache in self.opened:
            await cache.close()


class MemoryBackend(Backend):
    def make(self, name: str) -> ResponseCache:
        return InMemoryResponseCache(clock=self.clock)


class BoundedMemoryBackend(Backend):
    def make(self, name: str) -> ResponseCache:
        return BoundedCache(InMemoryResponseCache(clock=self.clock), clock=self.clock)


class DiskBackend(Backend):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def make(self, name: str) -> ResponseCache:
        return DiskResponseCache(self.directory / f"{name}.sqlite3", clock=self.clock)


class RedisBackend(Backend):
    real_time = True

    def __init__(self, fleet: RedisFleet) -> None:
        super().__init__()
        self.fleet = fleet

    def make(self, name: str) -> ResponseCache:
        return RedisResponseCache(self.fleet.client(), f"{self.fleet.prefix}{name}:")


class DualRedisBackend(RedisBackend):
    def make(self, name: str) -> ResponseCache:
        return DualCache(super().make(name), l1=InMemoryResponseCache(clock=self.clock))


@pytest.fixture(
    params=[
        "memory",
        "bounded-memory",
        "disk",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("dual-redis", marks=pytest.mark.redis),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    # The fleet is made here rather than by its fixture, which an async fixture cannot ask for by name.
    fleet = RedisFleet() if "redis" in request.param else None
    found: Backend
    if fleet is not None:
        found = RedisBackend(fleet) if request.param == "redis" else DualRedisBackend(fleet)
    elif request.param == "disk":
        found = DiskBackend(tmp_path)
    else:
        found = MemoryBackend() if request.param == "memory" else BoundedMemoryBackend()
    try:
        yield found
    finally:
        await found.close()
        if fleet is not None:
            await fleet.close()


@pytest.fixture
def cache(backend: Backend) -> ResponseCache:
    return backend.open()


# The contract, for every adapter.


async def test_a_key_never_set_is_a_miss(cache: ResponseCache) -> None:
    assert await cache.get("nothing") is None


async def test_an_entry_comes_back_equal_to_what_was_stored(cache: ResponseCache) -> None:
    entry = full_reply()
    await cache.set("k", entry, 60)
    assert await cache.get("k") == entry


async def test_a_vector_comes_back_equal_to_what_was_stored(cache: ResponseCache) -> None:
    entry = CachedVector((0.1, -2.5, 1 / 3, 1e-300), stored_at=1_700_000_000.5, deployment_id="emb")
    await cache.set("v", entry, None)
    assert await cache.get("v") == entry


async def test_set_replaces_the_entry_under_its_key(cache: ResponseCache) -> None:
    await cache.set("k", reply("old"), 60)
    await cache.set("k", reply("new"), 60)
    assert await cache.get("k") == reply("new")


async def test_an_entry_is_a_miss_once_its_ttl_has_passed(backend: Backend, cache: ResponseCache) -> None:
    await cache.set("short", reply("short"), TTL)
    await cache.set("long", reply("long"), 60)
    await cache.set("forever", reply("forever"), None)
    assert await cache.get("short") == reply("short")

    await backend.pass_time(TTL + 0.1)

    assert await cache.get("short") is None
    assert await cache.get_many(["short", "long", "forever"]) == [None, reply("long"), reply("forever")]


async def test_an_entry_set_with_a_zero_ttl_is_not_kept_and_replaces_the_old(cache: ResponseCache) -> None:
    await cache.set("k", reply("old"), 60)
    await cache.set("k", reply("new"), 0)
    assert await cache.get("k") is None


async def test_a_deleted_entry_is_a_miss_and_deleting_a_missing_key_is_fine(cache: ResponseCache) -> None:
    await cache.set("k", reply("k"), 60)
    await cache.set("other", reply("other"), 60)
    await cache.delete("k")
    await cache.delete("never-set")
    assert await cache.get("k") is None
    assert await cache.get("other") == reply("other")


async def test_clear_drops_every_entry_of_this_cache_only(backend: Backend, cache: ResponseCache) -> None:
    neighbour = backend.open("b")
    for key in ("k1", "k2", "shared-name"):
        await cache.set(key, reply(key), 60)
    await neighbour.set("shared-name", reply("neighbour"), 60)

    await cache.clear()

    assert await cache.get_many(["k1", "k2", "shared-name"]) == [None, None, None]
    assert await neighbour.get("shared-name") == reply("neighbour")
    await cache.set("k1", reply("again"), 60)
    assert await cache.get("k1") == reply("again")


async def test_get_many_answers_in_the_order_asked_with_misses_as_none(cache: ResponseCache) -> None:
    await cache.set("a", reply("a"), 60)
    await cache.set("c", reply("c"), 60)
    assert await cache.get_many(["c", "missing", "a", "c"]) == [reply("c"), None, reply("a"), reply("c")]
    assert await cache.get_many([]) == []


# In memory.


async def test_memory_evicts_the_least_recently_used_entries_past_its_bound_in_bytes() -> None:
    size = len(encode_entry(reply("a")))
    cache = InMemoryResponseCache(max_bytes=2 * size + size // 2, clock=FakeClock())
    await cache.set("a", reply("a"), None)
    await cache.set("b", reply("b"), None)
    assert await cache.get("a") is not None  # now b is the least recently used

    await cache.set("c", reply("c"), None)

    assert await cache.get_many(["a", "b", "c"]) == [reply("a"), None, reply("c")]
    assert cache.size_bytes == 2 * size


async def test_memory_keeps_no_entry_larger_than_its_whole_bound() -> None:
    cache = InMemoryResponseCache(max_bytes=100, clock=FakeClock())
    await cache.set("small", CachedVector((1.0,), 1.0), None)
    await cache.set("big", full_reply(), None)
    assert await cache.get("big") is None
    assert await cache.get("small") is not None


async def test_memory_answers_a_hit_with_the_stored_entry_itself() -> None:
    cache = InMemoryResponseCache()
    entry = full_reply()
    await cache.set("k", entry, 60)
    assert await cache.get("k") is entry


async def test_memory_drops_an_expired_entry_when_it_is_read() -> None:
    clock = FakeClock()
    cache = InMemoryResponseCache(clock=clock)
    await cache.set("k", reply("k"), 10)
    clock.advance(10)
    assert await cache.get("k") is None
    assert len(cache) == 0
    assert cache.size_bytes == 0


# On disk.


async def test_disk_entries_survive_a_new_instance_over_the_same_file(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "nested" / "cache.sqlite3"
    first = DiskResponseCache(path, clock=clock)
    await first.set("k", full_reply(), 60)
    await first.set("brief", reply("brief"), 5)
    await first.close()

    clock.advance(10)
    second = DiskResponseCache(path, clock=clock)
    assert await second.get_many(["k", "brief"]) == [full_reply(), None]
    await second.close()


async def test_disk_purges_expired_rows_when_they_are_read(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = DiskResponseCache(tmp_path / "c.sqlite3", clock=clock)
    await cache.set("a", reply("a"), 5)
    await cache.set("b", reply("b"), None)
    clock.advance(5)
    assert await cache.get("a") is None
    await cache.close()
    assert rows(tmp_path / "c.sqlite3") == ["b"]


async def test_disk_past_its_bound_drops_the_expired_then_the_oldest_written(tmp_path: Path) -> None:
    clock = FakeClock()
    size = len(encode_entry(reply("a")))
    cache = DiskResponseCache(tmp_path / "c.sqlite3", max_bytes=3 * size, clock=clock)
    await cache.set("a", reply("a"), None)
    await cache.set("expiring", reply("x"), 5)
    await cache.set("b", reply("b"), None)
    await cache.set("a", reply("a"), None)  # written anew: now the newest
    clock.advance(5)

    await cache.set("c", reply("c"), None)  # over the bound: "expiring" goes, which is enough
    assert sorted(rows(tmp_path / "c.sqlite3")) == ["a", "b", "c"]
    await cache.set("d", reply("d"), None)  # over again: the oldest written, "b", goes

    assert await cache.get_many(["a", "b", "c", "d"]) == [reply("a"), None, reply("c"), reply("d")]
    await cache.close()


async def test_disk_reads_a_row_that_is_not_an_entry_as_a_miss(tmp_path: Path) -> None:
    cache = DiskResponseCache(tmp_path / "c.sqlite3")
    await cache.set("k", reply("k"), 60)
    with sqlite3.connect(tmp_path / "c.sqlite3") as db:
        db.execute("UPDATE entries SET value = ?", (b'{"v": 99}',))
    assert await cache.get("k") is None
    await cache.close()


async def test_disk_that_cannot_be_written_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    cache = DiskResponseCache(tmp_path / "a-file" / "c.sqlite3")
    with pytest.raises(CacheUnavailable):
        await cache.get("k")


def rows(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [key for (key,) in db.execute("SELECT key FROM entries ORDER BY rowid")]


# In Redis.


@pytest.mark.redis
async def test_redis_keeps_each_entry_under_the_cache_prefix_with_its_ttl(redis_fleet: RedisFleet) -> None:
    cache = RedisResponseCache(redis_fleet.client(), redis_fleet.prefix)
    await cache.set("k", reply("k"), 30)
    await cache.set("forever", reply("f"), None)
    assert 29_000 < await redis_fleet.admin.pttl(f"{redis_fleet.prefix}cache:k") <= 30_000
    assert await redis_fleet.admin.pttl(f"{redis_fleet.prefix}cache:forever") == -1


@pytest.mark.redis
async def test_redis_reads_bytes_that_are_not_an_entry_as_a_miss(redis_fleet: RedisFleet) -> None:
    cache = RedisResponseCache(redis_fleet.client(), redis_fleet.prefix)
    await redis_fleet.admin.set(f"{redis_fleet.prefix}cache:k", b"garbage")
    assert await cache.get("k") is None
    assert await cache.get_many(["k"]) == [None]


@pytest.mark.redis
async def test_redis_clear_leaves_keys_outside_the_cache_alone(redis_fleet: RedisFleet) -> None:
    prefix = f"{redis_fleet.prefix}odd*[prefix]?:"  # glob characters in the prefix are literal
    cache = RedisResponseCache(redis_fleet.client(), prefix)
    await cache.set("k", reply("k"), 60)
    await redis_fleet.admin.set(f"{redis_fleet.prefix}oddX[prefix]?:cache:k", b"other")
    await redis_fleet.admin.set(f"{prefix}router:k", b"other")
    await cache.clear()
    assert sorted(await redis_fleet.keys()) == sorted(
        [f"{redis_fleet.prefix}oddX[prefix]?:cache:k".encode(), f"{prefix}router:k".encode()]
    )


@pytest.mark.redis
async def test_redis_down_is_unavailable_quickly_through_a_bounded_cache(redis_fleet: RedisFleet) -> None:
    clock = FakeClock()
    cache = BoundedCache(RedisResponseCache(unreachable_redis(redis_fleet), "x:"), clock=clock)
    started = time.monotonic()
    with pytest.raises(CacheUnavailable):
        await cache.get("k")
    with pytest.raises(CacheUnavailable):
        await cache.set("k", reply("k"), 60)
    assert time.monotonic() - started < 0.5
    assert (cache.failures, cache.skipped) == (1, 1)  # the set did not even try


@pytest.mark.redis
async def test_redis_down_is_unavailable_without_a_bounded_cache(redis_fleet: RedisFleet) -> None:
    cache = RedisResponseCache(unreachable_redis(redis_fleet), "x:")
    for call in (cache.get("k"), cache.get_many(["k"]), cache.set("k", reply("k"), 1), cache.clear()):
        with pytest.raises(CacheUnavailable):
            await call


# In memory in front of Redis.


class Recording(InMemoryResponseCache):
    """An l2 that counts its reads and can be made unavailable."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.down = False

    async def get(self, key: str) -> CachedEntry | None:
        self.reads += 1
        if self.down:
            raise CacheUnavailable("down")
        return await super().get(key)

    async def get_many(self, keys: Sequence[str]) -> list[CachedEntry | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, entry: CachedEntry, ttl: float | None) -> None:
        if self.down:
            raise CacheUnavailable("down")
        await super().set(key, entry, ttl)


async def test_dual_answers_from_memory_without_asking_the_shared_cache() -> None:
    l2 = Recording()
    cache = DualCache(l2)
    await cache.set("k", reply("k"), 60)
    assert await cache.get("k") == reply("k")
    assert l2.reads == 0


async def test_dual_fills_memory_with_what_the_shared_cache_found_for_l1_ttl() -> None:
    clock = FakeClock()
    l2 = Recording()
    cache = DualCache(l2, l1=InMemoryResponseCache(clock=clock), l1_ttl=5)
    await l2.set("a", reply("a"), 60)
    await l2.set("b", reply("b"), 60)
    assert await cache.get_many(["a", "missing"]) == [reply("a"), None]
    assert await cache.get("b") == reply("b")
    await l2.delete("a")  # as another instance would
    await l2.delete("b")

    reads = l2.reads
    assert await cache.get_many(["a", "b"]) == [reply("a"), reply("b")]
    assert l2.reads == reads
    clock.advance(5)
    assert await cache.get_many(["a", "b"]) == [None, None]


async def test_dual_keeps_an_entry_in_memory_no_longer_than_its_own_ttl() -> None:
    clock = FakeClock()
    l2 = Recording()
    cache = DualCache(l2, l1=InMemoryResponseCache(clock=clock), l1_ttl=5)
    await cache.set("k", reply("k"), 1)
    l2.down = True
    clock.advance(1)
    with pytest.raises(CacheUnavailable):
        await cache.get("k")


async def test_dual_still_answers_from_memory_what_was_set_while_the_shared_cache_was_down() -> None:
    l2 = Recording()
    l2.down = True
    cache = DualCache(l2)
    with pytest.raises(CacheUnavailable):
        await cache.set("k", reply("k"), 60)
    assert await cache.get("k") == reply("k")


# Bounded in time.


class Slow(InMemoryResponseCache):
    """A cache that takes `delay` seconds to answer, or fails when `error` is set."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.error: Exception | None = None

    async def get(self, key: str) -> CachedEntry | None:
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return await super().get(key)


async def test_bounded_turns_a_slow_answer_into_unavailable_and_counts_it() -> None:
    clock = FakeClock()
    inner = Slow(delay=1.0)
    cache = BoundedCache(inner, timeout=0.05, clock=clock)
    started = time.monotonic()
    with pytest.raises(CacheUnavailable, match=r"within 0\.05 s"):
        await cache.get("k")
    assert time.monotonic() - started < 0.5
    assert (cache.failures, cache.timeouts, cache.degraded) == (1, 1, True)


async def test_bounded_turns_any_failure_into_unavailable_and_counts_it() -> None:
    inner = Slow()
    inner.error = RuntimeError("boom")
    cache = BoundedCache(inner, clock=FakeClock())
    with pytest.raises(CacheUnavailable, match="boom") as caught:
        await cache.get("k")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert (cache.failures, cache.timeouts) == (1, 0)


async def test_bounded_leaves_a_failed_cache_alone_for_a_while_and_logs_once_per_outage() -> None:
    clock = FakeClock()
    inner = Slow()
    inner.error = CacheUnavailable("down")
    cache = BoundedCache(inner, clock=clock)
    await inner.set("k", reply("k"), None)

    with capture_logs() as logs:
        for _ in range(3):
            with pytest.raises(CacheUnavailable):
                await cache.get("k")
        clock.advance(RETRY_SHARED_AFTER)
        with pytest.raises(CacheUnavailable):
            await cache.get("k")  # tried again, failed again: the same outage
        clock.advance(RETRY_SHARED_AFTER)
        inner.error = None
        assert await cache.get("k") == reply("k")
        assert await cache.get("k") == reply("k")

    assert (cache.failures, cache.skipped, cache.degraded) == (2, 2, False)
    assert [(log["log_level"], log["event"].split(";")[0]) for log in logs] == [
        ("warning", "response cache unavailable"),
        ("info", "response cache available again"),
    ]
