"""A cache's SQLite file used from asyncio: its blocking calls in a worker thread, one at a time, on one
connection opened at first use."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ports.response_cache import CacheUnavailable

T = TypeVar("T")


class SqliteWorker:
    """Runs `work(connection, *args)` in a worker thread under a lock, on the connection `connect()`
    returns (called at the first call, and again after `close`). Any of `errors` (the sqlite3 module's
    Error, OSError) raises `CacheUnavailable` naming `what`, chained."""

    def __init__(
        self,
        what: str,
        connect: Callable[[], Any],
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self._what = what
        self._connect = connect
        self._errors = errors
        self._lock = threading.Lock()
        self._db: Any = None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(self._locked, work, *args)
        except self._errors as exc:
            raise CacheUnavailable(f"{self._what} is unavailable: {exc!r}") from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _locked(self, work: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._db is None:
                self._db = self._connect()
            return work(self._db, *args)

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def open_wal(module: Any, path: Path, timeout: float) -> Any:
    """A connection of `module` (sqlite3, or a stand-in of the same API) to the file at `path` (its folder
    made), in autocommit and WAL mode, so that other processes on the host read it while one writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = module.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a cache may lose its last writes to a power cut
    except BaseException:
        db.close()
        raise
    return db
