"""A spend journal in a Redis stream, shared by the fleet: any instance drains what a dead one left."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from adapters.journal.codec import UnreadableLine, decode, encode
from domain.spend import SpendRecord
from ports.spend_journal import JournalBatch, JournalUnavailable, SpendJournal

T = TypeVar("T")

GROUP = "writers"
"""The consumer group every instance reads the stream through, each under its own consumer name."""
FIELD = "r"
"""The one field of an entry: the record as a line of JSON (codec.py)."""
TIMEOUT = 1.0
"""Seconds one round trip may take, waiting for a pooled connection included, before JournalUnavailable."""

_log = structlog.get_logger("switchyard.journal")


class RedisSpendJournal(SpendJournal):
    """Spend records as entries of the stream `key`, read through one consumer group by every instance.

    `append` is one XADD (several records: one MULTI/EXEC pipeline), durable once Redis has it (Redis's
    own persistence settings decide what a crash of Redis keeps); the stream is never trimmed, so while
    the database is down it just grows. `take` reads, oldest first within each source: entries left
    pending more than `claim_idle` seconds by any consumer (a dead instance's, claimed with XAUTOCLAIM),
    then this consumer's own pending entries (given back by `abandon`, or left by a previous life under the
    same `consumer` name), then entries no consumer has read. A live consumer's batch is not taken by
    another before `claim_idle`, so that must exceed the longest batch write (past it, the batch may be
    written twice, which the ledger's idempotency absorbs). `acknowledge` is XACK and XDEL in one
    transaction. An entry that does not decode is acknowledged and deleted at once, counted in `skipped`
    and logged.

    It takes its client and never builds or closes one. Any Redis error or a round trip longer than
    `timeout` raises `JournalUnavailable`, chained."""

    def __init__(
        self,
        redis: Redis,
        key: str,
        consumer: str,
        *,
        claim_idle: float = 30.0,
        timeout: float = TIMEOUT,
    ) -> None:
        self._redis = redis
        self._key = key
        self._consumer = consumer
        self._claim_idle_ms = int(claim_idle * 1000)
        self._timeout = timeout
        self._group_ready = False
        self._out: set[str] = set()
        """Entries taken in batches not yet acknowledged nor given back: never handed out twice."""
        self._pending_from: str | None = "0"
        """Where the next read of this consumer's own pending entries starts; None once read through (until
        an abandon gives some back). "0" at first: a previous life under this name may have left some."""
        self._claim_from = "0-0"
        """XAUTOCLAIM's cursor: successive takes sweep the whole pending list."""
        self.skipped = 0
        """Entries found unreadable, and deleted, since this journal opened."""

    shared = True

    def describe(self) -> str:
        return "redis"

    async def backlog(self) -> int:
        """The stream's length: entries acknowledged are deleted, so it holds those not yet written."""
        return int(await self._call(self._redis.xlen(self._key)))

    async def append(self, records: Sequence[SpendRecord]) -> None:
        if not records:
            return
        if len(records) == 1:
            await self._call(self._redis.xadd(self._key, {FIELD: encode(records[0])}))
            return
        pipe = self._redis.pipeline(transaction=True)
        for record in records:
            pipe.xadd(self._key, {FIELD: encode(record)})
        await self._call(pipe.execute())

    async def take(self, limit: int) -> JournalBatch:
        if limit <= 0:
            return JournalBatch()
        if not self._group_ready:
            await self._call(self._create_group())
        taken: list[tuple[str, SpendRecord]] = []
        try:
            await self._take(limit, taken)
        except JournalUnavailable:
            # Entries a failed round trip delivered are pending under this consumer: read them again.
            self._pending_from = "0"
            raise
        self._out.update(id for id, _ in taken)
        return JournalBatch(tuple(record for _, record in taken), receipt=tuple(id for id, _ in taken))

    async def _take(self, limit: int, taken: list[tuple[str, SpendRecord]]) -> None:
        dropped: list[str] = []
        claimed = await self._call(
            self._redis.xautoclaim(
                self._key, GROUP, self._consumer, self._claim_idle_ms, self._claim_from, count=limit
            )
        )
        self._claim_from = _text(claimed[0])
        self._collect(claimed[1], limit, taken, dropped)
        while len(taken) < limit and self._pending_from is not None:
            want = limit - len(taken)
            entries = _entries(await self._call(self._read(self._pending_from, want)))
            if len(entries) < want:
                self._pending_from = None
            elif entries:
                self._pending_from = _text(entries[-1][0])
            self._collect(entries, limit, taken, dropped)
        if len(taken) < limit:
            self._collect(
                _entries(await self._call(self._read(">", limit - len(taken)))), limit, taken, dropped
            )
        if dropped:
            await self._remove(dropped)

    async def acknowledge(self, batch: JournalBatch) -> None:
        ids = _ids(batch)
        if ids:
            await self._remove(ids)
            self._out.difference_update(ids)

    async def abandon(self, batch: JournalBatch) -> None:
        given_back = self._out.intersection(_ids(batch))
        if given_back:
            self._out.difference_update(given_back)
            self._pending_from = "0"

    async def close(self) -> None:
        """Nothing to release: the client is the composition root's. Entries taken and not acknowledged
        stay pending under this consumer's name, for its next life or, after `claim_idle`, any peer."""

    def _collect(
        self,
        entries: Iterable[tuple[Any, Any]],
        limit: int,
        taken: list[tuple[str, SpendRecord]],
        dropped: list[str],
    ) -> None:
        seen = {id for id, _ in taken}
        for raw_id, fields in entries:
            if raw_id is None:
                continue
            id = _text(raw_id)
            if id in self._out or id in seen or len(taken) >= limit:
                # Ours already (XAUTOCLAIM also claims a batch of ours that is slow to be acknowledged), or
                # beyond the limit: it stays pending under this consumer, read again next time.
                if len(taken) >= limit:
                    self._pending_from = "0"
                continue
            if not fields:
                dropped.append(id)  # deleted while pending: nothing to take
                continue
            try:
                line = fields.get(FIELD.encode()) or fields.get(FIELD)
                if line is None:
                    raise UnreadableLine(f"no {FIELD!r} field")
                taken.append((id, decode(line)))
                seen.add(id)
            except UnreadableLine:
                self.skipped += 1
                dropped.append(id)
                _log.warning("spend journal: skipped an unreadable entry", stream=self._key, entry=id)

    def _read(self, start: str, count: int) -> Awaitable[Any]:
        return self._redis.xreadgroup(GROUP, self._consumer, {self._key: start}, count=count)

    async def _remove(self, ids: Sequence[str]) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.xack(self._key, GROUP, *ids)
        pipe.xdel(self._key, *ids)
        await self._call(pipe.execute())

    async def _create_group(self) -> None:
        # From the stream's start: entries appended before any instance took are the group's too.
        try:
            await self._redis.xgroup_create(self._key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _call(self, call: Awaitable[T]) -> T:
        """The one place where Redis's errors become the port's."""
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except (RedisError, OSError) as exc:  # TimeoutError included
            if "NOGROUP" in str(exc):
                self._group_ready = False  # the stream was deleted: the group is made again next time
            raise JournalUnavailable(f"the spend journal in Redis is unavailable: {exc!r}") from exc


def _entries(response: Any) -> list[tuple[Any, Any]]:
    """The entries of one stream in an XREADGROUP reply (RESP2 lists or RESP3 maps)."""
    if not response:
        return []
    if isinstance(response, dict):
        return [entry for streams in response.values() for entry in (streams[0] if streams else [])]
    return [entry for _, entries in response for entry in entries or ()]


def _ids(batch: JournalBatch) -> list[str]:
    receipt = batch.receipt
    return [id for id in receipt if isinstance(id, str)] if isinstance(receipt, tuple) else []


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
