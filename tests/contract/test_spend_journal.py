"""The SpendJournal contract (ports/spend_journal.py), held in memory, in files on local disk, and in a
stream of the real Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from adapters.journal.codec import encode
from adapters.journal.file_journal import REMEMBERED, FileSpendJournal
from adapters.journal.memory_journal import InMemorySpendJournal
from adapters.journal.redis_journal import FIELD, RedisSpendJournal
from domain.completions import Usage
from domain.spend import Caller, CallStatus, SpendRecord
from ports.spend_journal import JournalBatch, JournalUnavailable, SpendJournal
from tests.contract.redis_fleet import RedisFleet
from tests.contract.test_rate_limiter import unreachable_redis

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2025, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def record(n: int) -> SpendRecord:
    return SpendRecord(
        request_id=f"call-{n}",
        call_type="chat",
        started_at=START + timedelta(seconds=n),
        ended_at=START + timedelta(seconds=n, milliseconds=250),
        model_group="gpt-x",
    )


def full_record() -> SpendRecord:
    """Every field set, none to its default."""
    return SpendRecord(
        request_id="call-full",
        call_type="stream",
        started_at=START,
        ended_at=datetime(2025, 5, 1, 14, 0, 1, 5, tzinfo=UTC),
        model_group="gpt-x",
        caller=Caller("hash", "alias", "sk-...abcd", "u1", "t1", "o1", "end-user"),
        deployment_id="d1",
        provider="openai",
        upstream_model="gpt-4o-2024-08-06",
        usage=Usage(100, 20, 30, 40, 5),
        cost=Decimal("0.000000123456789"),
        input_cost=Decimal("0.000000100000000"),
        output_cost=Decimal("2.3456789E-8"),
        estimated=True,
        status=CallStatus.FAILURE,
        error_type="rate_limit_error",
        status_code=429,
        retries=2,
        fallbacks=1,
        time_to_first_token=0.125,
        cache_hit=True,
        tags=("prod", "ünïcode ✓"),
        metadata={"nested": {"list": [1, 2.5, None, True, "x"]}, "big": 2**62, "empty": {}},
        messages=[{"role": "user", "content": "hi\nthere"}],
        response={"id": "r1", "choices": [{"text": "ok"}]},
    )


def ids(batch: JournalBatch) -> list[str]:
    return [r.request_id for r in batch.records]


def names(numbers: Sequence[int] | range) -> list[str]:
    return [f"call-{n}" for n in numbers]


class Store:
    """Where one adapter's journals keep their records: `open` is a journal on it, as a process (re)started
    on the same directory or Redis would open one; `name` tells the processes apart."""

    def __init__(self) -> None:
        self.opened: list[SpendJournal] = []

    def make(self, name: str, claim_idle: float) -> SpendJournal:
        raise NotImplementedError

    def open(self, name: str = "a", claim_idle: float = 30.0) -> SpendJournal:
        journal = self.make(name, claim_idle)
        self.opened.append(journal)
        return journal

    async def close(self) -> None:
        for journal in self.opened:
            await journal.close()


class MemoryStore(Store):
    def __init__(self) -> None:
        super().__init__()
        self.journal = InMemorySpendJournal()

    def make(self, name: str, claim_idle: float) -> SpendJournal:
        return self.journal


class FileStore(Store):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def make(self, name: str, claim_idle: float) -> SpendJournal:
        return FileSpendJournal(self.directory)

    def child(self) -> tuple[str, list[str]]:
        opening = "from adapters.journal.file_journal import REMEMBERED, FileSpendJournal\n"
        return opening + "journal = FileSpendJournal(Path(sys.argv[1]))", [str(self.directory)]


class RedisStore(Store):
    def __init__(self, fleet: RedisFleet) -> None:
        super().__init__()
        self.fleet = fleet
        self.key = fleet.prefix + "spend"

    def make(self, name: str, claim_idle: float) -> SpendJournal:
        # A pool that makes a burst queue, as the composition root's does.
        client = Redis(connection_pool=BlockingConnectionPool.from_url(self.fleet.url, max_connections=20))
        self.fleet.clients.append(client)
        return RedisSpendJournal(client, self.key, name, claim_idle=claim_idle)

    def child(self) -> tuple[str, list[str]]:
        opening = (
            "from redis.asyncio import Redis\nfrom adapters.journal.redis_journal import RedisSpendJournal\n"
        )
        code = opening + "journal = RedisSpendJournal(Redis.from_url(sys.argv[1]), sys.argv[2], 'child')"
        return code, [self.fleet.url, self.key]


@pytest.fixture(params=["memory", "file", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with _opened(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture(params=["file", pytest.param("redis", marks=pytest.mark.redis)])
async def durable(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FileStore | RedisStore]:
    """The stores that outlive a process."""
    async with _opened(request.param, tmp_path) as opened:
        assert isinstance(opened, FileStore | RedisStore)
        yield opened


@asynccontextmanager
async def _opened(kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    # The fleet is made here rather than by its fixture, which an async fixture cannot ask for by name.
    fleet = RedisFleet() if kind == "redis" else None
    opened = (
        MemoryStore()
        if kind == "memory"
        else FileStore(tmp_path / "journal")
        if fleet is None
        else RedisStore(fleet)
    )
    try:
        yield opened
    finally:
        await opened.close()
        if fleet is not None:
            await fleet.close()


async def test_a_record_comes_back_equal_with_every_field_and_exact_money(store: Store) -> None:
    journal = store.open()
    await journal.append([full_record()])

    batch = await journal.take(10)

    assert batch.records == (full_record(),)
    assert str(batch.records[0].cost) == str(Decimal("0.000000123456789"))
    assert batch.records[0].started_at.tzinfo is not None


async def test_records_are_taken_oldest_first_and_at_most_limit_at_a_time(store: Store) -> None:
    journal = store.open()
    for n in range(4):
        await journal.append([record(n)])
    await journal.append([record(n) for n in range(4, 10)])

    first, second, rest = await journal.take(3), await journal.take(3), await journal.take(100)

    assert (ids(first), ids(second), ids(rest)) == (names(range(3)), names(range(3, 6)), names(range(6, 10)))
    assert ids(await journal.take(100)) == []


async def test_acknowledged_records_never_come_back(store: Store) -> None:
    journal = store.open()
    await journal.append([record(n) for n in range(5)])

    await journal.acknowledge(await journal.take(3))
    await journal.abandon(await journal.take(100))

    assert ids(await journal.take(100)) == names(range(3, 5))


async def test_an_abandoned_batch_is_taken_again_in_order(store: Store) -> None:
    journal = store.open()
    await journal.append([record(n) for n in range(6)])
    await journal.acknowledge(await journal.take(1))

    first = await journal.take(2)
    second = await journal.take(2)
    await journal.abandon(first)

    again = await journal.take(100)
    assert ids(again) == names([1, 2, 5])
    await journal.acknowledge(second)
    await journal.acknowledge(again)
    assert ids(await journal.take(100)) == []


async def test_the_backlog_counts_records_until_they_are_acknowledged(store: Store) -> None:
    journal = store.open()
    await journal.append([record(n) for n in range(5)])
    assert await journal.backlog() == 5

    await journal.acknowledge(await journal.take(2))
    await journal.abandon(await journal.take(2))  # given back: still waiting

    assert await journal.backlog() == 3
    await journal.acknowledge(await journal.take(100))
    assert await journal.backlog() == 0


async def test_a_peer_counts_what_a_dead_one_left_in_its_backlog(durable: Store) -> None:
    dead = durable.open("dead")
    await dead.append([record(n) for n in range(6)])
    await dead.acknowledge(await dead.take(2))
    await dead.close()

    alive = durable.open("alive", claim_idle=0.05)
    await asyncio.sleep(0.1)
    await alive.abandon(await alive.take(1))  # a take adopts what the dead one left

    assert await alive.backlog() == 4
    await alive.acknowledge(await alive.take(100))
    assert await alive.backlog() == 0


async def test_many_concurrent_appends_are_all_taken_exactly_once(store: Store) -> None:
    journal = store.open()
    await asyncio.gather(*(journal.append([record(n)]) for n in range(500)))

    taken: list[str] = []
    while batch := (await journal.take(64)).records:
        taken += [r.request_id for r in batch]

    assert sorted(taken) == sorted(names(range(500)))


# What outlives a process: files and Redis.


async def test_records_taken_and_not_acknowledged_come_back_after_a_restart(durable: Store) -> None:
    before = durable.open("a")
    await before.append([record(n) for n in range(6)])
    await before.acknowledge(await before.take(2))
    await before.take(2)
    await before.close()

    after = durable.open("a")

    assert ids(await after.take(100)) == names(range(2, 6))


async def test_live_peers_never_take_the_same_record(durable: Store) -> None:
    first, second = durable.open("a"), durable.open("b")
    await first.append([record(n) for n in range(10)])
    await second.append([record(n) for n in range(10, 20)])

    one, two = await first.take(100), await second.take(100)
    one_more, two_more = await first.take(100), await second.take(100)

    assert set(ids(one)).isdisjoint(ids(two))
    assert sorted(ids(one) + ids(two)) == sorted(names(range(20)))
    assert ids(one_more) == ids(two_more) == []


async def test_a_peer_takes_what_a_dead_one_left(durable: Store) -> None:
    dead = durable.open("dead")
    await dead.append([record(n) for n in range(6)])
    await dead.acknowledge(await dead.take(1))
    await dead.take(2)
    await dead.close()  # a file's lock goes with its process; Redis waits out claim_idle

    alive = durable.open("alive", claim_idle=0.05)
    await asyncio.sleep(0.1)
    batch = await alive.take(100)

    assert ids(batch) == names(range(1, 6))
    await alive.acknowledge(batch)
    assert ids(await durable.open("later").take(100)) == []


CHILD = """
import asyncio, sys, time
from datetime import UTC, datetime
from pathlib import Path
from domain.spend import SpendRecord
{opening}

async def main():
    for n in range(200):
        now = datetime.now(UTC)
        await journal.append([SpendRecord(f"call-{{n}}", "chat", now, now, "gpt-x")])
        print(f"call-{{n}}", flush=True)
        time.sleep(0.005)

asyncio.run(main())
"""


async def test_records_appended_by_a_process_killed_mid_way_are_all_taken_once(
    durable: FileStore | RedisStore,
) -> None:
    opening, argv = durable.child()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD.format(opening=opening), *argv,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert child.stdout is not None
    printed = [(await child.stdout.readline()).decode().strip() for _ in range(40)]
    child.send_signal(signal.SIGKILL)
    printed += (await child.stdout.read()).decode().split()
    await child.wait()
    assert 40 <= len(printed) < 200

    journal = durable.open("survivor")
    taken: list[str] = []
    while (batch := await journal.take(64)).records:
        taken += ids(batch)
        await journal.acknowledge(batch)

    in_flight = f"call-{len(printed)}"
    assert taken[: len(printed)] == printed
    assert taken[len(printed) :] in ([], [in_flight])
    assert ids(await durable.open("another").take(100)) == []


# The files.


def orphan_segment(directory: Path, lines: Sequence[bytes]) -> Path:
    """A segment left by a dead process."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.jsonl"
    path.write_bytes(b"".join(lines))
    return path


async def test_an_unreadable_line_in_a_segment_is_skipped_and_the_rest_taken(tmp_path: Path) -> None:
    lines = [
        encode(record(0)) + b"\n",
        b'{"v": 1, "request_id": \n',
        b"\x00garbage\n",
        encode(record(1)) + b"\n",
    ]
    segment = orphan_segment(tmp_path, lines)
    journal = FileSpendJournal(tmp_path)

    batch = await journal.take(100)
    await journal.acknowledge(batch)

    assert ids(batch) == names([0, 1])
    assert journal.skipped == 2
    assert not segment.exists()
    await journal.close()


async def test_an_unterminated_last_line_is_never_taken(tmp_path: Path) -> None:
    torn = encode(record(1))[:40]
    segment = orphan_segment(tmp_path, [encode(record(0)) + b"\n", torn])
    journal = FileSpendJournal(tmp_path)

    batch = await journal.take(100)
    assert segment.exists()
    await journal.acknowledge(batch)

    assert ids(batch) == names([0])
    assert ids(await journal.take(100)) == []
    assert not segment.exists()
    assert journal.skipped == 1
    await journal.close()


async def test_a_segment_is_drained_from_its_acknowledged_offset_after_each_restart(tmp_path: Path) -> None:
    segment = orphan_segment(tmp_path, [encode(record(n)) + b"\n" for n in range(5)])
    for expected in ([0, 1], [2, 3], [4]):
        journal = FileSpendJournal(tmp_path)
        await journal.acknowledge(batch := await journal.take(2))
        assert ids(batch) == names(expected)
        await journal.close()

    assert not segment.exists()
    assert list(tmp_path.iterdir()) == []


async def test_the_own_segment_is_replaced_once_drained_and_large(tmp_path: Path) -> None:
    journal = FileSpendJournal(tmp_path, rotate_at=1000)
    await journal.append([record(n) for n in range(10)])
    (before,) = tmp_path.glob("*.jsonl")

    await journal.acknowledge(await journal.take(100))
    await journal.append([record(10)])

    (after,) = tmp_path.glob("*.jsonl")
    assert after != before
    assert ids(await journal.take(100)) == names([10])
    await journal.close()


async def test_a_backlog_longer_than_the_records_kept_in_memory_is_taken_whole_in_order(
    tmp_path: Path,
) -> None:
    journal = FileSpendJournal(tmp_path)
    count = REMEMBERED + 30
    for n in range(count):
        await journal.append([record(n)])
    taken: list[str] = []
    while batch := (await journal.take(64)).records:
        taken += [r.request_id for r in batch]
        if len(taken) == 64:  # appended while the backlog drains: after it, in order
            await journal.append([record(count), record(count + 1)])
    assert taken == names(range(count + 2))
    await journal.close()


async def test_an_append_torn_midway_is_one_line_skipped_between_records_taken_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = FileSpendJournal(tmp_path)
    await journal.append([record(0)])
    write, calls = os.write, []

    def short_then_full_disk(fd: int, data: bytes) -> int:  # a short write, then the disk is full
        calls.append(fd)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return write(fd, bytes(data)[:20])

    monkeypatch.setattr(os, "write", short_then_full_disk)
    with pytest.raises(JournalUnavailable):
        await journal.append([record(1)])
    monkeypatch.undo()
    await journal.append([record(2), record(3)])

    batch = await journal.take(100)
    await journal.acknowledge(batch)
    assert ids(batch) == names([0, 2, 3])
    assert journal.skipped == 1
    assert ids(await journal.take(100)) == []
    await journal.close()


async def test_a_directory_that_cannot_be_used_raises_journal_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(JournalUnavailable) as raised:
        FileSpendJournal(tmp_path / "a-file" / "journal")
    assert raised.value.__cause__ is not None

    closed = FileSpendJournal(tmp_path / "journal")
    await closed.close()
    with pytest.raises(JournalUnavailable):
        await closed.append([record(0)])


# Redis.


@pytest.mark.redis
async def test_an_unreadable_entry_is_skipped_and_deleted(redis_fleet: RedisFleet) -> None:
    store = RedisStore(redis_fleet)
    journal = store.open()
    await journal.append([record(0)])
    await redis_fleet.admin.xadd(store.key, {FIELD: b"not json"})
    await redis_fleet.admin.xadd(store.key, {"other": b"field"})
    await journal.append([record(1)])

    batch = await journal.take(100)
    await journal.acknowledge(batch)

    assert ids(batch) == names([0, 1])
    assert isinstance(journal, RedisSpendJournal) and journal.skipped == 2
    assert await redis_fleet.admin.xlen(store.key) == 0


@pytest.mark.redis
async def test_an_unreachable_redis_raises_journal_unavailable(redis_fleet: RedisFleet) -> None:
    journal = RedisSpendJournal(unreachable_redis(redis_fleet), redis_fleet.prefix + "spend", "a")

    for call in (
        journal.append([record(0)]),
        journal.append([record(0), record(1)]),
        journal.take(10),
        journal.acknowledge(JournalBatch((record(0),), receipt=("1-0",))),
    ):
        with pytest.raises(JournalUnavailable) as raised:
            await call
        assert raised.value.__cause__ is not None
