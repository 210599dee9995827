"""The spend ledger's batch write on SQLite, in one trip to the driver's thread.

aiosqlite runs each statement on its own thread, and SQLAlchemy's adapter makes four trips per statement
(cursor, execute, fetch, close); a batch of some ten statements (the log pages, the totals' and the daily
rows' reads and upserts, begin and commit) cost some forty thread handoffs and SQLAlchemy's compilation
of the upserts, several times what SQLite spends storing the rows. Here the whole transaction is one
function run on that thread against the driver's own `sqlite3` connection, with the statements written
once and the values bound by the columns' own processors: the rows stored are those SQLAlchemy stores.
A batch of 50 records costs a third of the CPU it did, and the writer keeps up with a busy event loop
(it fell behind by thousands of records with the loop at full load).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from adapters.persistence import tables
from adapters.persistence.spend_rows import (
    DAILY_DIMENSIONS,
    DAILY_SUMS,
    PAGE_SIZES,
    TOTAL_SUMS,
    daily_row,
    log_row,
    pages,
    total_row,
)
from adapters.persistence.spend_sums import EXACT, daily, totals
from domain.spend import SpendRecord
from ports.unit_of_work import StoreUnavailable


def _processor(table: Table, name: str, dialect: Dialect, *, bind: bool) -> Callable[[Any], Any] | None:
    kind = table.c[name].type.dialect_impl(dialect)
    return kind.bind_processor(dialect) if bind else kind.result_processor(dialect, None)


_SAMPLE_TIME = datetime(2001, 2, 3, 4, 5, 6, 0, tzinfo=UTC)


def _quick(process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """`process`, with what most records hold answered without it when it answers so too: an aware UTC
    time (the columns' processors cost 4 us each), an empty list or dict (a JSON dump each)."""
    if process is None:
        return None
    try:
        timed = process(_SAMPLE_TIME) == _naive_text(_SAMPLE_TIME)
    except Exception:
        timed = False
    if timed:
        return lambda value: (
            _naive_text(value) if type(value) is datetime and value.tzinfo is UTC else process(value)
        )
    try:
        empty = {list: process([]), dict: process({})}
    except Exception:
        return process
    if empty != {list: "[]", dict: "{}"}:
        return process
    return lambda value: empty[type(value)] if not value and type(value) in empty else process(value)


def _naive_text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _bound(value: Any, process: Callable[[Any], Any] | None) -> Any:
    return value if process is None else process(value)


class _Sums:
    """A sums table (totals or daily): this shard's stored rows read a page of keys at a time, and the
    rows upserted with them added (BEGIN IMMEDIATE makes the writer the only one)."""

    def __init__(self, table: Table, key: Sequence[str], sums: Sequence[str], dialect: Dialect) -> None:
        quote = dialect.identifier_preparer.quote
        self.width = len(key)
        self.sums = tuple(sums)
        self.columns = (*key, "shard", *sums)
        self.binds = [_processor(table, name, dialect, bind=True) for name in self.columns]
        self.results = [_processor(table, name, dialect, bind=False) for name in sums]
        keys = ", ".join(quote(name) for name in key)
        one = "(" + ", ".join("?" for _ in key) + ")"
        head = f"SELECT {keys}, {', '.join(quote(n) for n in sums)} FROM {quote(table.name)} WHERE "
        self.select = {
            n: f"{head}{quote('shard')} = ? AND ({keys}) IN (VALUES {', '.join([one] * n)})"
            for n in PAGE_SIZES
        }
        self.upsert = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in self.columns)}) "
            f"VALUES ({', '.join('?' for _ in self.columns)}) "
            f"ON CONFLICT ({keys}, {quote('shard')}) DO UPDATE SET "
            + ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in sums)
        )

    def add(self, connection: sqlite3.Connection, rows: Mapping[tuple[Any, ...], dict[str, Any]]) -> None:
        """Adds `rows` (one per key, pre-summed) to what this shard stores, in key order."""
        width = self.width
        key_columns = tuple(zip(self.columns[: width + 1], self.binds[: width + 1], strict=True))
        sum_binds = self.binds[width + 1 :]
        params = []
        for page in pages([rows[k] for k in sorted(rows, key=sort_key)]):
            keys = [[_bound(row[n], bind) for n, bind in key_columns] for row in page]
            asked = [value for key in keys for value in key[:width]]
            found = connection.execute(self.select[len(page)], [keys[0][width], *asked]).fetchall()
            stored = {tuple(row[:width]): row[width:] for row in found}
            for row, key in zip(page, keys, strict=True):
                sums = [row[name] for name in self.sums]
                before = stored.get(tuple(key[:width]))
                if before is not None:
                    sums = [
                        EXACT.add(mine, _bound(was, result)) if name == "spend" else mine + was
                        for name, mine, was, result in zip(self.sums, sums, before, self.results, strict=True)
                    ]
                bound = [_bound(value, bind) for value, bind in zip(sums, sum_binds, strict=True)]
                params.append([*key, *bound])
        connection.executemany(self.upsert, params)


class SqliteSpendBatch:
    """Writes a batch as `SqlAlchemySpendLedger.write` does on SQLite (BEGIN IMMEDIATE; the new log rows,
    ON CONFLICT DO NOTHING; their sums added to this shard's totals and daily rows; COMMIT), in one
    function run on aiosqlite's thread. `write` answers None when the driver offers no such way in, and
    the caller writes the batch statement by statement."""

    def __init__(self, dialect: Dialect, shard: str) -> None:
        logs = tables.spend_logs
        quote = dialect.identifier_preparer.quote
        self._shard = shard
        self._log_binds = [
            (c.name, _quick(_processor(logs, c.name, dialect, bind=True))) for c in logs.columns
        ]
        columns = ", ".join(quote(name) for name, _ in self._log_binds)
        one = "(" + ", ".join("?" for _ in self._log_binds) + ")"
        head = f"INSERT INTO {quote(logs.name)} ({columns}) VALUES "
        tail = f" ON CONFLICT ({quote('request_id')}) DO NOTHING"
        self._log_sql = {n: head + ", ".join([one] * n) + tail for n in PAGE_SIZES}
        found = f"SELECT {quote('request_id')} FROM {quote(logs.name)} WHERE {quote('request_id')} IN "
        self._stored_sql = {n: found + "(" + ", ".join("?" * n) + ")" for n in PAGE_SIZES}
        self._totals = _Sums(tables.spend_totals, ("subject",), TOTAL_SUMS, dialect)
        self._daily = _Sums(tables.spend_daily, DAILY_DIMENSIONS, DAILY_SUMS, dialect)

    async def write(self, raw: Any, batch: Mapping[str, SpendRecord]) -> int | None:
        """`raw`: the pool's connection (its `driver_connection` is aiosqlite's). The records written
        new, or None when this cannot write."""
        driver = getattr(raw, "driver_connection", None)
        run = getattr(driver, "_execute", None)
        if run is None or not hasattr(driver, "_conn"):
            return None
        try:
            return int(await run(self._transaction, driver, batch))
        except (sqlite3.OperationalError, sqlite3.InterfaceError) as exc:
            raise StoreUnavailable(f"the database cannot be reached: {exc}") from exc

    def _transaction(self, driver: Any, batch: Mapping[str, SpendRecord]) -> int:
        connection: sqlite3.Connection = driver._conn
        connection.execute("BEGIN IMMEDIATE")
        try:
            new = self._rows(connection, batch)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return new

    def _rows(self, connection: sqlite3.Connection, batch: Mapping[str, SpendRecord]) -> int:
        # The rows already stored are looked up first rather than told by RETURNING: the write lock is
        # held, so the answer stands, and each row a statement returns is a step of its own, on which
        # the driver lets go of the GIL and, with the event loop busy, waits up to its switch interval
        # (5 ms) to have it back. Sorted, so that writers sharing request ids lock them in the same order.
        ids = sorted(batch)
        stored: set[str] = set()
        for page_ids in pages(ids):
            found = connection.execute(self._stored_sql[len(page_ids)], page_ids).fetchall()
            stored.update(request_id for (request_id,) in found)
        new = [batch[id] for id in ids if id not in stored]
        binds = self._log_binds
        for page in pages(new):
            rows = [log_row(record) for record in page]
            values = [_bound(row[name], bind) for row in rows for name, bind in binds]
            connection.execute(self._log_sql[len(rows)], values)
        if new:
            shard = self._shard
            self._totals.add(connection, {(s,): total_row(s, shard, t) for s, t in totals(new).items()})
            self._daily.add(connection, {k: daily_row(k, shard, sums) for k, sums in daily(new).items()})
        return len(new)


def sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple("" if part is None else part for part in key)
