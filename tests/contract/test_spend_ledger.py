"""The SpendLedger contract (ports/spend_ledger.py), held in memory, in SQLite and in the real PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import event

from adapters.persistence.database import Database
from adapters.persistence.spend_sqlite import SqliteSpendBatch
from domain.completions import Usage
from domain.spend import (
    Caller,
    CallStatus,
    DailyQuery,
    DailySpend,
    SpendLogQuery,
    SpendRecord,
    subject,
)
from ports.unit_of_work import StoreUnavailable
from tests.contract.persistence_backends import (
    POSTGRES_URL,
    T0,
    TINY,
    Backend,
    backend,
    migrated_sqlite,
    postgres_schema,
    token,
)

__all__ = ["backend", "migrated_sqlite", "postgres_schema"]  # fixtures, found by name

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KEY = token("sk-1")
CALLER = Caller(
    key_hash=KEY,
    key_alias="alias-1",
    key_name="sk-...abcd",
    user_id="u1",
    team_id="t1",
    organization_id="o1",
    end_user="customer-1",
)
WIDE = Decimal("1234567890123456789.000000123456789")
"""More digits than Decimal's default context keeps: sums of it round unless kept exact."""


FULL = SpendRecord(
    request_id="req-full",
    call_type="stream",
    started_at=T0,
    ended_at=T0 + timedelta(seconds=2, microseconds=5),
    model_group="gpt-4o",
    caller=CALLER,
    deployment_id="m1",
    provider="openai",
    upstream_model="gpt-4o-2024-08-06",
    usage=Usage(1200, 345, 1000, 100, 45),
    cost=WIDE,
    input_cost=TINY,
    output_cost=Decimal("1.10"),
    estimated=True,
    status=CallStatus.FAILURE,
    error_type="RateLimitError",
    status_code=429,
    retries=2,
    fallbacks=1,
    time_to_first_token=0.123456789,
    cache_hit=True,
    tags=("prod", "eu"),
    metadata={"owner": "ml", "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}},
    messages=[{"role": "user", "content": [{"type": "text", "text": "héllo"}]}],
    response={"id": "chatcmpl-1", "choices": [{"index": 0, "message": {"content": None}}]},
)


def exact(*amounts: Decimal | int) -> Decimal:
    """The sum, with no digit rounded away."""
    with localcontext(prec=100):
        return sum(amounts, Decimal(0))


def call(
    request_id: str,
    *,
    at: datetime = T0,
    caller: Caller = CALLER,
    model: str = "gpt-4o",
    cost: Decimal | None = Decimal("0.1"),
    provider: str | None = "openai",
    status: CallStatus = CallStatus.SUCCESS,
    usage: Usage = Usage(10, 5),  # noqa: B008 (frozen)
) -> SpendRecord:
    return SpendRecord(
        request_id=request_id,
        call_type="chat",
        started_at=at,
        ended_at=at + timedelta(seconds=1),
        model_group=model,
        caller=caller,
        provider=provider,
        usage=usage,
        cost=cost,
        status=status,
    )


def subjects_of(caller: Caller, model: str | None = None) -> list[str]:
    return [s if model is None else f"{s}:model:{model}" for s in caller.subjects()]


async def test_a_record_with_every_field_set_comes_back_equal(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    bare = call("req-bare", caller=Caller(), provider=None, cost=None, at=T0 - timedelta(days=1))
    elsewhere = timezone(timedelta(hours=-5))

    assert await ledger.write([FULL, bare]) == 2

    assert await ledger.logs(SpendLogQuery()) == [FULL, bare]
    shifted = call("req-shifted", at=T0.astimezone(elsewhere) + timedelta(hours=1))
    await ledger.write([shifted])
    [found] = await ledger.logs(SpendLogQuery(request_id="req-shifted"))
    assert found == shifted
    assert found.started_at.tzinfo == UTC


async def test_rewriting_records_adds_nothing_twice(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    first = [call("r1"), call("r2", cost=TINY)]
    assert await ledger.write(first) == 2
    before = await ledger.totals(CALLER.subjects())

    assert await ledger.write(first) == 0
    assert await ledger.write([call("r2", cost=TINY), call("r3"), call("r3")]) == 1
    assert await ledger.write([]) == 0

    after = await ledger.totals(CALLER.subjects())
    assert after == {s: before[s] + Decimal("0.1") for s in CALLER.subjects()}
    assert after[subject("key", KEY)] == Decimal("0.2") + TINY
    assert await ledger.count(SpendLogQuery()) == 3
    [day] = await ledger.daily(DailyQuery(T0.date(), T0.date()))
    assert (day.requests, day.spend) == (3, Decimal("0.2") + TINY)


async def test_totals_count_every_subject_and_model_summed_across_shards(backend: Backend) -> None:
    other = Caller(key_hash=token("sk-2"), team_id="t1")
    await backend.spend_ledger("a").write([call("r1", cost=WIDE), call("r2", model="claude", cost=TINY)])
    await backend.spend_ledger("b").write([call("r3", cost=WIDE), call("r4", caller=other, cost=Decimal(1))])

    totals = await backend.spend_ledger("a").totals(
        [*subjects_of(CALLER), *subjects_of(CALLER, "gpt-4o"), *subjects_of(CALLER, "claude"), "team:nobody"]
    )

    for s in ("user:u1", "organization:o1", "end_user:customer-1", f"key:{KEY}"):
        assert totals[s] == exact(WIDE, WIDE, TINY)
        assert totals[f"{s}:model:gpt-4o"] == exact(WIDE, WIDE)
        assert totals[f"{s}:model:claude"] == TINY
    assert totals["team:t1"] == exact(WIDE, WIDE, TINY, 1)
    assert totals["team:t1:model:gpt-4o"] == exact(WIDE, WIDE, 1)
    assert "team:nobody" not in totals
    assert await backend.spend_ledger("b").totals([]) == {}


async def test_a_failed_call_without_a_price_counts_one_request_and_no_spend(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    failed = call("r1", cost=None, status=CallStatus.FAILURE, usage=Usage())

    assert await ledger.write([failed]) == 1

    assert await ledger.totals(["team:t1", "team:t1:model:gpt-4o"]) == {
        "team:t1": 0,
        "team:t1:model:gpt-4o": 0,
    }
    assert await ledger.spend_since("team:t1", T0 - timedelta(hours=1)) == 0
    [day] = await ledger.daily(DailyQuery(T0.date(), T0.date()))
    assert (day.spend, day.requests, day.successes, day.failures) == (0, 1, 0, 1)


async def test_spend_since_counts_the_records_started_in_the_window(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    await ledger.write(
        [
            call("r1", at=T0, cost=Decimal("1")),
            call("r2", at=T0 + timedelta(hours=1), cost=TINY, model="claude"),
            call("r3", at=T0 + timedelta(days=2), cost=Decimal("100")),
            call("r4", at=T0 + timedelta(days=2), cost=Decimal("7"), caller=Caller(team_id="t2")),
        ]
    )

    assert await ledger.spend_since("team:t1", EPOCH) == Decimal(101) + TINY
    assert await ledger.spend_since("team:t1", T0) == Decimal(101) + TINY
    assert await ledger.spend_since("team:t1", T0 + timedelta(microseconds=1)) == Decimal(100) + TINY
    assert await ledger.spend_since("team:t1", T0 + timedelta(days=1)) == Decimal(100)
    assert await ledger.spend_since("team:t1:model:claude", T0) == TINY
    assert await ledger.spend_since(f"key:{KEY}:model:gpt-4o", EPOCH) == Decimal(101)
    assert await ledger.spend_since("end_user:customer-1", T0 + timedelta(days=3)) == 0
    assert await ledger.spend_since("team:t2", T0.astimezone(timezone(timedelta(hours=9)))) == 7
    assert await ledger.spend_since("user:nobody", EPOCH) == 0


async def test_a_reset_zeroes_the_totals_and_the_spend_before_it(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    await backend.spend_ledger("b").write([call("r1", at=T0, cost=Decimal(5))])
    await ledger.write([call("r2", at=T0 + timedelta(hours=1), cost=Decimal(3))])
    reset_at = T0 + timedelta(hours=2)

    await ledger.reset(reset_at)

    assert await ledger.totals(["team:t1", "team:t1:model:gpt-4o"]) == {}
    assert await ledger.spend_since("team:t1", EPOCH) == 0
    assert await ledger.spend_since("team:t1", T0) == 0
    await ledger.write([call("r3", at=T0 + timedelta(hours=3), cost=Decimal(2))])
    assert await ledger.totals(["team:t1"]) == {"team:t1": 2}
    assert await ledger.spend_since("team:t1", EPOCH) == 2
    assert await ledger.spend_since("team:t1", T0) == 2
    assert await ledger.spend_since("team:t1", reset_at) == 2
    assert await ledger.spend_since("team:t1", T0 + timedelta(hours=4)) == 0
    assert await ledger.count(SpendLogQuery()) == 3
    [day] = await ledger.daily(DailyQuery(T0.date(), T0.date()))
    assert (day.spend, day.requests) == (10, 3)


async def test_daily_aggregates_sum_each_utc_day_across_shards(backend: Backend) -> None:
    day1, day2 = T0.date(), T0.date() + timedelta(days=1)
    late = datetime.combine(day1, datetime.min.time(), UTC) + timedelta(hours=23, minutes=30)
    elsewhere = late.astimezone(timezone(timedelta(hours=5)))  # already the next day where it was made
    team2 = Caller(team_id="t2")
    await backend.spend_ledger("a").write(
        [
            call("r1", at=T0, cost=Decimal("0.5"), usage=Usage(10, 5, 2, 1, 3)),
            call("r2", at=elsewhere, cost=TINY, status=CallStatus.FAILURE),
            call("r3", at=T0, caller=team2, provider=None, cost=None),
        ]
    )
    await backend.spend_ledger("b").write(
        [
            call("r4", at=T0, cost=Decimal("0.25"), usage=Usage(1, 1, 0, 0, 0)),
            call("r5", at=late + timedelta(hours=1), model="claude"),
        ]
    )
    ledger = backend.spend_ledger("a")

    found = await ledger.daily(DailyQuery(day1, day2))

    key1 = {"key_hash": KEY, "team_id": "t1", "organization_id": "o1", "user_id": "u1"}
    key1 |= {"end_user": "customer-1", "provider": "openai"}
    assert found == [
        DailySpend(day1, model_group="gpt-4o", team_id="t2", requests=1, successes=1, prompt_tokens=10,
                   completion_tokens=5),
        DailySpend(day1, model_group="gpt-4o", spend=Decimal("0.75") + TINY, prompt_tokens=21,
                   completion_tokens=11, cached_tokens=2, cache_creation_tokens=1, reasoning_tokens=3,
                   requests=3, successes=2, failures=1, **key1),
        DailySpend(day2, model_group="claude", spend=Decimal("0.1"), prompt_tokens=10, completion_tokens=5,
                   requests=1, successes=1, **key1),
    ]  # fmt: skip
    assert await ledger.daily(DailyQuery(day2, day2)) == found[2:]
    assert await ledger.daily(DailyQuery(day1, day2, team_id="t2")) == found[:1]
    assert await ledger.daily(DailyQuery(day1, day2, model_group="claude", key_hash=KEY)) == found[2:]
    assert await ledger.daily(DailyQuery(day1, day2, provider="openai", user_id="u1")) == found[1:]
    assert await ledger.daily(DailyQuery(day1, day2, organization_id="o2")) == []
    assert await ledger.daily(DailyQuery(date(2020, 1, 1), day1 - timedelta(days=1))) == []


async def test_logs_come_newest_first_filtered_and_paged(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    other = Caller(key_hash=token("sk-2"), user_id="u2", team_id="t2", organization_id="o2", end_user="c2")
    records = [
        call("b", at=T0),
        call("a", at=T0),
        call("c", at=T0 + timedelta(minutes=1), caller=other),
        call("d", at=T0 - timedelta(minutes=1)),
        call("e", at=T0 + timedelta(days=1)),
    ]
    await ledger.write(records)

    async def ids(**filters: Any) -> list[str]:
        query = SpendLogQuery(**filters)
        found = [record.request_id for record in await ledger.logs(query)]
        if not {"offset", "limit"} & filters.keys():
            assert await ledger.count(query) == len(found)
        return found

    assert await ids() == ["e", "c", "b", "a", "d"]
    assert await ids(offset=1, limit=3) == ["c", "b", "a"]
    assert await ids(offset=5) == []
    assert await ledger.count(SpendLogQuery(offset=1, limit=1)) == 5
    assert await ids(key_hash=KEY) == ["e", "b", "a", "d"]
    for field in ("user_id", "team_id", "organization_id", "end_user"):
        assert await ids(**{field: getattr(other, field)}) == ["c"]
    assert await ids(request_id="a") == ["a"]
    assert await ids(start=T0, end=T0 + timedelta(days=1)) == ["c", "b", "a"]
    assert await ids(start=T0 + timedelta(minutes=1), key_hash=KEY) == ["e"]
    assert await ids(team_id="nobody") == []


async def test_logs_are_filtered_by_model_group_and_status(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    await ledger.write(
        [
            call("ok-4o", at=T0),
            call("failed-4o", at=T0 + timedelta(minutes=1), status=CallStatus.FAILURE),
            call("ok-mini", at=T0 + timedelta(minutes=2), model="gpt-4o-mini"),
        ]
    )

    async def ids(**filters: Any) -> list[str]:
        query = SpendLogQuery(**filters)
        found = await ledger.logs(query)
        assert await ledger.count(query) == len(found)
        return [record.request_id for record in found]

    assert await ids(model_group="gpt-4o") == ["failed-4o", "ok-4o"]
    assert await ids(status=CallStatus.FAILURE) == ["failed-4o"]
    assert await ids(model_group="gpt-4o", status=CallStatus.SUCCESS) == ["ok-4o"]
    assert await ids(model_group="nothing") == []


async def test_a_batch_of_a_thousand_records_is_written_at_once(backend: Backend) -> None:
    ledger = backend.spend_ledger("a")
    callers = [Caller(key_hash=token(f"k{i}"), team_id=f"t{i % 7}", end_user=f"c{i % 13}") for i in range(50)]
    records = [
        call(f"r{i:04}", at=T0 + timedelta(hours=i), caller=callers[i % 50], cost=TINY * i, model=f"m{i % 3}")
        for i in range(1000)
    ]

    assert await ledger.write(records) == 1000

    assert await ledger.count(SpendLogQuery()) == 1000
    expected = sum((r.cost for r in records if r.caller.team_id == "t3"), Decimal(0))
    assert (await ledger.totals(["team:t3"]))["team:t3"] == expected
    assert await ledger.spend_since("team:t3", T0 + timedelta(hours=500)) == sum(
        (r.cost for r in records[500:] if r.caller.team_id == "t3"), Decimal(0)
    )
    daily = await ledger.daily(DailyQuery(T0.date(), T0.date() + timedelta(days=50)))
    assert sum(d.requests for d in daily) == 1000
    assert sum((d.spend for d in daily), Decimal(0)) == TINY * sum(range(1000))
    assert await ledger.write(records[::-1]) == 0


async def test_writers_of_two_shards_at_once_neither_deadlock_nor_lose_spend(backend: Backend) -> None:
    ledgers = [backend.spend_ledger("a"), backend.spend_ledger("b")]
    callers = [Caller(key_hash=token(f"k{i}"), team_id=f"t{i % 2}", user_id="u") for i in range(4)]

    def batch(shard: int, n: int) -> list[SpendRecord]:
        # Each batch names every subject, in a different order, so that writers contend for every row.
        return [
            call(f"{shard}-{n}-{i}", caller=callers[(i + n) % 4], cost=TINY + i, model=f"m{i % 2}")
            for i in range(8)
        ]

    batches = [(ledgers[shard], batch(shard, n)) for n in range(20) for shard in (0, 1)]
    written = await asyncio.gather(*(ledger.write(records) for ledger, records in batches))

    assert written == [8] * 40
    everything = [record for _, records in batches for record in records]
    totals = await ledgers[0].totals(["user:u", "team:t0", "team:t1:model:m1"])
    assert totals == {
        "user:u": sum((r.cost for r in everything), Decimal(0)),
        "team:t0": sum((r.cost for r in everything if r.caller.team_id == "t0"), Decimal(0)),
        "team:t1:model:m1": sum(
            (r.cost for r in everything if r.caller.team_id == "t1" and r.model_group == "m1"), Decimal(0)
        ),
    }
    [day] = await ledgers[1].daily(DailyQuery(T0.date(), T0.date(), key_hash=token("k0"), model_group="m0"))
    assert day.requests == sum(r.caller.key_hash == token("k0") and r.model_group == "m0" for r in everything)


def _database(request: pytest.FixtureRequest, engine: str, tmp_path: Path) -> Database:
    if engine == "sqlite":
        path = tmp_path / "switchyard.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return Database.open(f"sqlite+aiosqlite:///{path}")
    # The session's schema, which the next test using `backend` empties.
    return Database.open(POSTGRES_URL, schema=request.getfixturevalue("postgres_schema"))


class _RecordingConnection:
    """The driver's sqlite3 connection, telling `seen` each statement text run through it."""

    def __init__(self, connection: sqlite3.Connection, seen: Callable[[str], object]) -> None:
        self._connection = connection
        self._seen = seen

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._seen(sql)
        return self._connection.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._seen(sql)
        return self._connection.executemany(sql, *args)

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction


def _record_statements(
    database: Database, monkeypatch: pytest.MonkeyPatch, seen: Callable[[str], object]
) -> None:
    """Each statement text the ledger runs: through SQLAlchemy, and on SQLite through the batch written
    on the driver's own connection (spend_sqlite), which SQLAlchemy's events do not see."""
    event.listen(database.engine.sync_engine, "before_cursor_execute", lambda *a: seen(a[2]))
    run = SqliteSpendBatch._transaction

    def recorded(batch: SqliteSpendBatch, driver: Any, records: Any) -> int:
        return run(batch, SimpleNamespace(_conn=_RecordingConnection(driver._conn, seen)), records)

    monkeypatch.setattr(SqliteSpendBatch, "_transaction", recorded)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_a_batch_takes_a_statement_per_page_of_rows_not_one_per_record(
    request: pytest.FixtureRequest, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = _database(request, engine, tmp_path)
    statements: list[str] = []
    _record_statements(database, monkeypatch, statements.append)
    records = [call(f"count-{i:04}", caller=Caller(team_id=f"t{i}"), model=f"m{i % 5}") for i in range(1000)]
    try:
        assert await database.spend_ledger("a").write(records) == 1000
    finally:
        await database.close()
    # 1000 log rows, 2000 totals (each team whole and per model), 1000 daily rows, in pages of 16 rows
    # (and on SQLite, as many reads of the rows added to): a statement per page, not per record
    pages_of_rows = (1000 + 2000 + 1000) // 16
    assert 1000 // 16 <= len(statements) <= 2 * pages_of_rows + 10, len(statements)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_batches_of_every_size_run_a_few_statement_texts_so_driver_caches_stay_small(
    request: pytest.FixtureRequest, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = _database(request, engine, tmp_path)
    texts: set[str] = set()
    _record_statements(database, monkeypatch, texts.add)
    ledger = database.spend_ledger("a")
    try:
        for size in range(1, 130):
            batch = [call(f"s{size}-{i}", caller=Caller(team_id=f"t{i % 7}")) for i in range(size)]
            await ledger.write(batch)
    finally:
        await database.close()
    # Five page sizes for each of the log insert, the two upserts and (SQLite) their two lookups, and a
    # few fixed statements: never one text per batch size, which drivers would each keep prepared.
    assert 5 <= len(texts) <= 5 * 5 + 5, len(texts)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_an_unreachable_database_raises_store_unavailable() -> None:
    database = Database.open(f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/test")
    ledger = database.spend_ledger("a")
    try:
        for attempt in (
            ledger.write([call("r1")]),
            ledger.logs(SpendLogQuery()),
            ledger.count(SpendLogQuery()),
            ledger.totals(["team:t1"]),
            ledger.spend_since("team:t1", T0),
            ledger.daily(DailyQuery(T0.date(), T0.date())),
            ledger.reset(T0),
        ):
            with pytest.raises(StoreUnavailable):
                await attempt
    finally:
        await database.close()


async def test_on_sqlite_the_batch_on_the_drivers_thread_stores_what_the_statement_by_statement_path_stores(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQLite ledger writes a batch in one function on the driver's thread (spend_sqlite), and falls
    back to SQLAlchemy statements where the driver offers no such way in: both store the same rows."""
    first = [
        call(f"r{i:03}", at=T0 + timedelta(hours=i * 7), caller=caller, model=f"m{i % 3}", cost=cost)
        for i, (caller, cost) in enumerate(
            [(CALLER, Decimal("0.1")), (Caller(team_id="t1"), Decimal("0.000000123456789")),
             (Caller(user_id="u1", end_user="e1"), None), (Caller(), Decimal("3"))] * 5
        )
    ]  # fmt: skip
    second = [*first[15:], call("r900", caller=Caller(team_id="t1")), call("r901", status=CallStatus.FAILURE)]

    async def stored(directory: Path) -> dict[str, list[Any]]:
        directory.mkdir()
        database = _database(request, "sqlite", directory)
        ledger = database.spend_ledger("a")
        try:
            assert await ledger.write(first) == len(first)
            assert await ledger.write(second) == 2
            async with database.engine.connect() as connection:
                return {
                    table: list(
                        (await connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1, 2")).all()
                    )
                    for table in ("spend_logs", "spend_totals", "spend_daily")
                }
        finally:
            await database.close()

    on_the_drivers_thread = await stored(tmp_path / "batch")

    async def no_way_in(*_: Any) -> None:
        return None

    monkeypatch.setattr(SqliteSpendBatch, "write", no_way_in)
    statement_by_statement = await stored(tmp_path / "statements")

    assert all(on_the_drivers_thread.values())
    assert on_the_drivers_thread == statement_by_statement
