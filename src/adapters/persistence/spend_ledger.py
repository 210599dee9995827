"""The spend ledger in SQLite or PostgreSQL: the log, the running totals and the daily aggregates, written
together, once per batch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.persistence import tables
from adapters.persistence.errors import translated
from adapters.persistence.spend_rows import (
    DAILY_DIMENSIONS,
    DAILY_SUMS,
    TOTAL_SUMS,
    daily_of_row,
    daily_row,
    log_row,
    pages,
    record_of,
    total_row,
)
from adapters.persistence.spend_sqlite import SqliteSpendBatch, sort_key
from adapters.persistence.spend_sums import (
    ALL_TIME,
    CALLER_FIELDS,
    EXACT,
    daily,
    first_of_each,
    in_order,
    in_utc,
    merged,
    totals,
)
from domain.spend import ZERO, DailyQuery, DailySpend, SpendLogQuery, SpendRecord, parse_subject
from ports.spend_ledger import SpendLedger

RESET_SCOPE = "global"
_logs = tables.spend_logs
_totals = tables.spend_totals
_daily = tables.spend_daily
_resets = tables.spend_resets


class SqlAlchemySpendLedger(SpendLedger):
    """Writes each batch in one transaction: the log rows that are new (ON CONFLICT DO NOTHING, so a
    batch taken twice from the journal adds nothing the second time), then their sums, added to this
    writer's `shard` rows of the totals and daily aggregates in key order. PostgreSQL adds in the upsert
    (NUMERIC is exact); SQLite keeps money as text, so it reads the rows and writes the sums, which is
    safe because BEGIN IMMEDIATE makes it the only writer."""

    def __init__(self, engine: AsyncEngine, shard: str) -> None:
        self._engine = engine
        self._shard = shard
        self._sqlite = engine.dialect.name == "sqlite"
        # The dialect's own INSERT (for its ON CONFLICT), imported for that dialect only: PostgreSQL's
        # module costs an SQLite gateway 5 MB.
        if self._sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        self._dialect_insert = insert
        dialect = engine.dialect
        # Each column's processor as the dialect runs it (a TypeDecorator through its dialect impl).
        self._binds = [
            (column.name, column.type.dialect_impl(dialect).bind_processor(dialect))
            for column in _logs.columns
        ]
        self._log_statements: dict[int, str] = {}
        self._sqlite_batch = SqliteSpendBatch(dialect, shard) if self._sqlite else None

    def _insert(self, table: Table) -> Any:
        return self._dialect_insert(table)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self._engine.begin() as connection:
            if self._sqlite:
                # The driver opens no transaction itself (see database.py); taking the write lock up
                # front makes the read-then-write of the sums safe from other writers.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    async def write(self, records: Sequence[SpendRecord]) -> int:
        batch = first_of_each(records)
        if not batch:
            return 0
        if self._sqlite_batch is not None:
            with translated():
                async with self._engine.connect() as connection:
                    written = await self._sqlite_batch.write(await connection.get_raw_connection(), batch)
            if written is not None:
                return written
        with translated():
            async with self._transaction() as connection:
                # Sorted, so that writers sharing request ids lock them in the same order.
                rows = [log_row(batch[id]) for id in sorted(batch)]
                inserted = await self._insert_logs(connection, rows)
                new = [batch[id] for id in sorted(inserted)]
                if new:
                    shard = self._shard
                    added = {(s,): total_row(s, shard, total) for s, total in totals(new).items()}
                    await self._add(connection, _totals, ("subject",), TOTAL_SUMS, added)
                    days = {key: daily_row(key, shard, sums) for key, sums in daily(new).items()}
                    await self._add(connection, _daily, DAILY_DIMENSIONS, DAILY_SUMS, days)
        return len(new)

    async def _insert_logs(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
        """Inserts the log rows not written yet; returns the request ids it wrote."""
        inserted: set[str] = set()
        if self._sqlite:
            # The log insert is most of a batch's cost: on SQLite it is sent as the driver's own statement
            # with values bound by the columns' own processors, without SQLAlchemy's work per parameter
            # (35 a row), which costs a call several times what SQLite spends storing it.
            for page in pages(rows):
                binds = self._binds
                values = [bind(row[name]) if bind else row[name] for row in page for name, bind in binds]
                found = await connection.exec_driver_sql(self._log_sql(len(page)), tuple(values))
                inserted.update(request_id for (request_id,) in found.fetchall())
            return inserted
        insert = (
            self._insert(_logs)
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(_logs.c.request_id)
        )
        for page in pages(rows):
            inserted.update((await connection.execute(insert, page)).scalars())
        return inserted

    def _log_sql(self, count: int) -> str:
        sql = self._log_statements.get(count)
        if sql is None:
            quote = self._engine.dialect.identifier_preparer.quote
            columns = ", ".join(quote(name) for name, _ in self._binds)
            one = "(" + ", ".join("?" for _ in self._binds) + ")"
            sql = (
                f"INSERT INTO {quote(_logs.name)} ({columns}) VALUES {', '.join([one] * count)} "
                f"ON CONFLICT ({quote('request_id')}) DO NOTHING RETURNING {quote('request_id')}"
            )
            self._log_statements[count] = sql
        return sql

    async def _add(
        self,
        connection: AsyncConnection,
        table: Table,
        key: Sequence[str],
        sums: Sequence[str],
        rows: Mapping[tuple[Any, ...], dict[str, Any]],
    ) -> None:
        """Adds `rows` (one per key, pre-summed: an upsert may touch a row once) to this shard's rows,
        in key order so that concurrent writers of one shard lock rows in the same order."""
        if not rows:  # records charged to nobody (a library call) add to no total
            return
        ordered = [rows[k] for k in sorted(rows, key=sort_key)]
        insert = self._insert(table)
        if self._sqlite:
            ordered = await self._plus_stored(connection, table, key, sums, ordered)
            changes = {name: insert.excluded[name] for name in sums}
        else:
            changes = {name: table.c[name] + insert.excluded[name] for name in sums}
        upsert = insert.on_conflict_do_update(index_elements=[*key, "shard"], set_=changes)
        for page in pages(ordered):
            await connection.execute(upsert, page)

    async def _plus_stored(
        self,
        connection: AsyncConnection,
        table: Table,
        key: Sequence[str],
        sums: Sequence[str],
        rows: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """The rows with what this shard already stores for them added, in exact decimals."""
        columns = [table.c[name] for name in key]
        stored: dict[tuple[Any, ...], Any] = {}
        for page in pages(rows):
            keys = [tuple(row[name] for name in key) for row in page]
            matches = columns[0].in_([k[0] for k in keys]) if len(key) == 1 else tuple_(*columns).in_(keys)
            found = await connection.execute(select(table).where(table.c.shard == self._shard, matches))
            stored |= {tuple(row[name] for name in key): row for row in found.mappings()}
        added = []
        for row in rows:
            before = stored.get(tuple(row[name] for name in key))
            if before is not None:
                row = row | {
                    name: EXACT.add(row[name], before[name]) if name == "spend" else row[name] + before[name]
                    for name in sums
                }
            added.append(row)
        return added

    async def logs(self, query: SpendLogQuery) -> list[SpendRecord]:
        # Code point order for the tie-break, as SQLite and the in-memory ledger sort, whatever the
        # PostgreSQL database's collation.
        request_id = _logs.c.request_id if self._sqlite else _logs.c.request_id.collate("C")
        statement = (
            select(_logs)
            .where(*_log_filters(query))
            .order_by(_logs.c.started_at.desc(), request_id.desc())
            .offset(query.offset)
            .limit(query.limit)
        )
        with translated():
            async with self._engine.connect() as connection:
                rows = (await connection.execute(statement)).mappings().all()
        return [record_of(row) for row in rows]

    async def count(self, query: SpendLogQuery) -> int:
        statement = select(func.count()).select_from(_logs).where(*_log_filters(query))
        with translated():
            async with self._engine.connect() as connection:
                return (await connection.scalar(statement)) or 0

    async def totals(self, subjects: Sequence[str]) -> Mapping[str, Decimal]:
        if not subjects:
            return {}
        statement = select(_totals.c.subject, _totals.c.spend).where(_totals.c.subject.in_(set(subjects)))
        with translated():
            async with self._engine.connect() as connection:
                rows = (await connection.execute(statement)).all()
        found: dict[str, Decimal] = {}
        for subject, spend in rows:  # one row per shard
            found[subject] = EXACT.add(found.get(subject, ZERO), spend)
        return found

    async def spend_since(self, subject: str, since: datetime) -> Decimal:
        kind, id, model = parse_subject(subject)
        since = in_utc(since)
        with translated():
            async with self._engine.connect() as connection:
                reset = await connection.scalar(
                    select(_resets.c.reset_at).where(_resets.c.scope == RESET_SCOPE)
                )
                if since <= ALL_TIME or (reset is not None and since < reset):
                    rows = await connection.execute(
                        select(_totals.c.spend).where(_totals.c.subject == subject)
                    )
                    return _exact_sum(rows.scalars())
                filters = [
                    _logs.c[CALLER_FIELDS[kind]] == id,
                    _logs.c.started_at >= max(since, reset or since),
                ]
                if model is not None:
                    filters.append(_logs.c.model_group == model)
                if self._sqlite:  # money is text there: SUM would go through a float
                    costs = await connection.execute(
                        select(_logs.c.cost).where(*filters, _logs.c.cost.is_not(None))
                    )
                    return _exact_sum(costs.scalars())
                return (await connection.scalar(select(func.sum(_logs.c.cost)).where(*filters))) or ZERO

    async def daily(self, query: DailyQuery) -> list[DailySpend]:
        filters = [_daily.c.day >= query.start, _daily.c.day <= query.end]
        for name in (
            "key_hash",
            "team_id",
            "organization_id",
            "user_id",
            "end_user",
            "model_group",
            "provider",
        ):
            wanted = getattr(query, name)
            if wanted is not None:
                filters.append(_daily.c[name] == wanted)
        with translated():
            async with self._engine.connect() as connection:
                rows = (await connection.execute(select(_daily).where(*filters))).mappings().all()
        # Shards are summed here rather than by GROUP BY: SQLite's SUM of text money is a float sum.
        return in_order(merged(daily_of_row(row) for row in rows).values())

    async def reset(self, at: datetime) -> None:
        insert = self._insert(_resets)
        with translated():
            async with self._transaction() as connection:
                await connection.execute(delete(_totals))
                await connection.execute(
                    insert.values(scope=RESET_SCOPE, reset_at=at).on_conflict_do_update(
                        index_elements=["scope"], set_={"reset_at": insert.excluded.reset_at}
                    )
                )


def _exact_sum(amounts: Any) -> Decimal:
    total = ZERO
    for amount in amounts:
        total = EXACT.add(total, amount)
    return total


_LOG_COLUMNS = ("key_hash", "user_id", "team_id", "organization_id", "end_user", "request_id", "model_group")


def _log_filters(query: SpendLogQuery) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    for name in _LOG_COLUMNS:
        wanted = getattr(query, name)
        if wanted is not None:
            filters.append(_logs.c[name] == wanted)
    if query.status is not None:
        filters.append(_logs.c.status == query.status.value)
    if query.start is not None:
        filters.append(_logs.c.started_at >= in_utc(query.start))
    if query.end is not None:
        filters.append(_logs.c.started_at < in_utc(query.end))
    return filters
