"""Response cache in one SQLite file on local disk: it outlives the process, shared by those on one host."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from adapters.cache.codec import decode_or_miss, encode_or_skip
from adapters.cache.sqlite_worker import SqliteWorker, open_wal
from adapters.clock import SystemClock
from domain.caching import CachedEntry
from ports.clock import Clock
from ports.response_cache import ResponseCache

T = TypeVar("T")

MAX_BYTES = 1024 * 1024 * 1024
"""Default bound of the entries' total size in the file."""
_BATCH = 500
"""Keys per SELECT of `get_many` (well under SQLite's bound on a statement's parameters)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires_at REAL,
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_expires_at ON entries (expires_at);
"""


class DiskResponseCache(ResponseCache):
    """Entries as the codec's bytes in the table `entries` (key, value, expires_at in Unix seconds or
    NULL for none, size) of the SQLite file at `path`, in WAL mode, so a restarted process (or another on
    the same host) reads what was stored. An expired row is a miss, deleted when read; past `max_bytes`,
    a `set` deletes the expired rows and then the oldest written until the file's entries fit again.

    SQLite runs in a worker thread, one call at a time on one connection opened at first use. Any SQLite
    or file-system error raises `CacheUnavailable`; bytes that are not an entry are a miss. (A bound on
    the time a call may take is BoundedCache's.)"""

    def __init__(self, path: str | Path, *, max_bytes: int = MAX_BYTES, clock: Clock | None = None) -> None:
        self._path = Path(path)
        self._max_bytes = max_bytes
        self._clock = clock or SystemClock()
        self._file = SqliteWorker(f"response cache file {self._path}", self._open, (sqlite3.Error, OSError))
        self._total = 0
        """The entries' total size as this process last knew it, counted high (a replaced or deleted
        entry is not taken off): only when it passes the bound is it counted again, exactly."""

    async def get(self, key: str) -> CachedEntry | None:
        return (await self._run(self._get_many, [key], self._clock.now()))[0]

    async def get_many(self, keys: Sequence[str]) -> list[CachedEntry | None]:
        if not keys:
            return []
        return await self._run(self._get_many, list(keys), self._clock.now())

    async def set(self, key: str, entry: CachedEntry, ttl: float | None) -> None:
        data = None if ttl is not None and ttl <= 0 else encode_or_skip(key, entry)
        if data is None or len(data) > self._max_bytes:  # set replaces: leave no older entry behind
            await self.delete(key)
            return
        now = self._clock.now()
        await self._run(self._set, key, data, None if ttl is None else now + ttl, now)

    async def delete(self, key: str) -> None:
        await self._run(self._execute, "DELETE FROM entries WHERE key = ?", (key,))

    async def clear(self) -> None:
        await self._run(self._execute, "DELETE FROM entries", ())

    async def close(self) -> None:
        await self._file.close()

    # In the worker thread, under the lock.

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        return await self._file.run(work, *args)

    def _open(self) -> sqlite3.Connection:
        db = open_wal(sqlite3, self._path, 5.0)
        try:
            db.executescript(_SCHEMA)
            self._total = db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
        except BaseException:
            db.close()
            raise
        return db

    def _get_many(self, db: sqlite3.Connection, keys: list[str], now: float) -> list[CachedEntry | None]:
        live: dict[str, bytes] = {}
        expired: list[tuple[str, float]] = []
        for start in range(0, len(keys), _BATCH):
            batch = keys[start : start + _BATCH]
            query = f"SELECT key, value, expires_at FROM entries WHERE key IN ({','.join('?' * len(batch))})"
            for key, value, expires_at in db.execute(query, batch):
                if expires_at is not None and expires_at <= now:
                    expired.append((key, now))
                else:
                    live[key] = value
        if expired:
            db.executemany("DELETE FROM entries WHERE key = ? AND expires_at <= ?", expired)
        return [decode_or_miss(live.get(key)) for key in keys]

    def _set(
        self, db: sqlite3.Connection, key: str, data: bytes, expires_at: float | None, now: float
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO entries (key, value, expires_at, size) VALUES (?, ?, ?, ?)",
            (key, data, expires_at, len(data)),
        )
        self._total += len(data)
        if self._total > self._max_bytes:
            self._shrink(db, now)

    def _shrink(self, db: sqlite3.Connection, now: float) -> None:
        db.execute("DELETE FROM entries WHERE expires_at <= ?", (now,))
        total = db.execute("SELECT COALESCE(SUM(size), 0) FROM entries").fetchone()[0]
        if total > self._max_bytes:
            # A replaced entry is written anew, so rowid order is the order of writing: oldest first.
            cutoff = None
            rows = db.execute("SELECT rowid, size FROM entries ORDER BY rowid")
            for rowid, size in rows:
                total -= size
                cutoff = rowid
                if total <= self._max_bytes:
                    break
            rows.close()
            db.execute("DELETE FROM entries WHERE rowid <= ?", (cutoff,))
        self._total = total

    def _execute(self, db: sqlite3.Connection, statement: str, args: tuple[object, ...]) -> None:
        db.execute(statement, args)
