"""The semantic cache's vector index in one SQLite file, searched by sqlite-vec: embedded, no server."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from adapters.cache.sqlite_worker import SqliteWorker, open_wal
from adapters.cache.vector_entries import reply_of, scope_key, to_store
from adapters.clock import SystemClock
from domain.caching import CachedReply
from ports.clock import Clock
from ports.response_cache import VectorIndex

_EXTRA = "pip install 'switchyard[semantic-cache]'"

# Loading an extension needs a Python whose sqlite3 allows it; some (this Debian's, macOS's system one)
# are built without, and then pysqlite3 (the same module over its own SQLite) stands in.
if not hasattr(sqlite3.Connection, "enable_load_extension"):
    try:
        from pysqlite3 import dbapi2 as sqlite3  # type: ignore[no-redef]
    except ImportError as exc:
        raise ImportError(
            "The sqlite-vec semantic cache loads a SQLite extension, which this Python's sqlite3 cannot; "
            f"pysqlite3 stands in for it: {_EXTRA}"
        ) from exc
try:
    import sqlite_vec
except ImportError as exc:
    raise ImportError(f"The sqlite-vec semantic cache needs the package sqlite-vec: {_EXTRA}") from exc

TIMEOUT = 5.0
"""Seconds a call waits for another process's write to the file before it is CacheUnavailable."""
PURGE_EVERY = 60.0
"""Seconds between two deletions of the expired entries (by an `add`); until then they are only skipped."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS semantic_entries (
    id INTEGER PRIMARY KEY,
    dimensions INTEGER NOT NULL,
    scope TEXT NOT NULL,
    expires_at REAL NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS semantic_entries_expires_at ON semantic_entries (expires_at);
"""
_VECTORS = "semantic_vectors_{}"
_VECTORS_NAME = re.compile(r"semantic_vectors_(\d+)")


class SqliteVecVectorIndex(VectorIndex):
    """Entries in the SQLite file at `path` (WAL mode, so it outlives the process and is shared by those
    on one host): each a row of `semantic_entries` (scope, expiry in Unix seconds, the codec's bytes of
    the reply) and its vector in the sqlite-vec table `semantic_vectors_<dimensions>`, created at the
    first vector of that many dimensions. That table is a `vec0` of cosine distance with the scope's
    key and the expiry as metadata columns, so one k=1 query finds the nearest live vector of the scope.
    (Not a partition key: each partition preallocates chunks of 1,024 vectors, which with many small
    scopes makes the file hundreds of times larger.) The search is exact (a scan of the table).

    Expired entries are skipped at search and deleted by an `add` at most every PURGE_EVERY seconds.
    SQLite runs in a worker thread, one call at a time on one connection opened at first use (or by
    `open`). Any SQLite or file-system error raises `CacheUnavailable`; bytes that are not a reply miss."""

    def __init__(self, path: str | Path, *, clock: Clock | None = None, timeout: float = TIMEOUT) -> None:
        self._path = Path(path)
        self._clock = clock or SystemClock()
        self._timeout = timeout
        self._file = SqliteWorker(f"semantic cache file {self._path}", self._open, (sqlite3.Error, OSError))
        self._dimensions: set[int] = set()
        self._purge_at = 0.0

    async def open(self) -> None:
        """Opens the file now (else the first call does): the composition root's check at startup."""
        await self._file.run(lambda db: None)

    async def search(
        self, scope: str, vector: Sequence[float], threshold: float
    ) -> tuple[CachedReply, float] | None:
        if not vector:
            return None
        found = await self._file.run(
            self._search, scope, len(vector), sqlite_vec.serialize_float32(vector), self._clock.now()
        )
        if found is None:
            return None
        similarity = 1.0 - found[0]
        reply = reply_of(found[1]) if similarity >= threshold else None
        return None if reply is None else (reply, similarity)

    async def add(self, scope: str, vector: Sequence[float], entry: CachedReply, ttl: float | None) -> None:
        now = self._clock.now()
        if stored := to_store(scope, vector, entry, ttl, now):
            row = (scope, len(vector), sqlite_vec.serialize_float32(vector), *stored)
            await self._file.run(self._add, row, now)

    async def clear(self) -> None:
        await self._file.run(self._clear)

    async def close(self) -> None:
        await self._file.close()

    # In the worker thread, under the lock.

    def _open(self) -> sqlite3.Connection:
        db = open_wal(sqlite3, self._path, self._timeout)
        try:
            db.enable_load_extension(True)
            sqlite_vec.load(db)
            db.enable_load_extension(False)
            db.executescript(_SCHEMA)
            self._find_tables(db)
        except BaseException:
            db.close()
            raise
        return db

    def _find_tables(self, db: sqlite3.Connection) -> None:
        """The vector tables in the file (another process may have made one since this one looked)."""
        names = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%vec0%'")
        self._dimensions = {int(m[1]) for (name,) in names if (m := _VECTORS_NAME.fullmatch(name))}

    def _search(
        self, db: sqlite3.Connection, scope: str, dimensions: int, blob: bytes, now: float
    ) -> tuple[float, bytes] | None:
        if dimensions not in self._dimensions:
            self._find_tables(db)
            if dimensions not in self._dimensions:
                return None
        row = db.execute(
            f"WITH nearest AS (SELECT id, distance FROM {_VECTORS.format(dimensions)}"
            "  WHERE embedding MATCH ? AND k = 1 AND scope_key = ? AND expires_at > ?)"
            " SELECT nearest.distance, e.scope, e.payload"
            " FROM nearest JOIN semantic_entries AS e ON e.id = nearest.id",
            (blob, scope_key(scope), now),
        ).fetchone()
        return None if row is None or row[1] != scope else (row[0], row[2])

    def _add(self, db: sqlite3.Connection, row: tuple[str, int, bytes, bytes, float], now: float) -> None:
        scope, dimensions, blob, payload, expires_at = row
        table = _VECTORS.format(dimensions)
        if dimensions not in self._dimensions:
            db.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0(id INTEGER PRIMARY KEY,"
                f" scope_key INTEGER, expires_at FLOAT, embedding FLOAT[{dimensions}] distance_metric=cosine)"
            )
            self._dimensions.add(dimensions)
        with _transaction(db):
            entry_id = db.execute(
                "INSERT INTO semantic_entries (dimensions, scope, expires_at, payload) VALUES (?, ?, ?, ?)",
                (dimensions, scope, expires_at, payload),
            ).lastrowid
            db.execute(
                f"INSERT INTO {table} (id, scope_key, expires_at, embedding) VALUES (?, ?, ?, ?)",
                (entry_id, scope_key(scope), expires_at, blob),
            )
        if now >= self._purge_at:
            self._purge_at = now + PURGE_EVERY
            self._purge(db, now)

    def _purge(self, db: sqlite3.Connection, now: float) -> None:
        self._find_tables(db)
        with _transaction(db):
            expired = db.execute("SELECT id, dimensions FROM semantic_entries WHERE expires_at <= ?", (now,))
            by_table: dict[int, list[tuple[int]]] = {}
            for entry_id, dimensions in expired:
                by_table.setdefault(dimensions, []).append((entry_id,))
            for dimensions, ids in by_table.items():
                if dimensions in self._dimensions:
                    db.executemany(f"DELETE FROM {_VECTORS.format(dimensions)} WHERE id = ?", ids)
            db.execute("DELETE FROM semantic_entries WHERE expires_at <= ?", (now,))

    def _clear(self, db: sqlite3.Connection) -> None:
        self._find_tables(db)
        with _transaction(db):
            for dimensions in self._dimensions:
                db.execute(f"DROP TABLE IF EXISTS {_VECTORS.format(dimensions)}")
            db.execute("DELETE FROM semantic_entries")
        self._dimensions.clear()


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on an error) on a connection in autocommit mode."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
