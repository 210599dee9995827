"""The database a gateway keeps its records in: an SQLite file by default, PostgreSQL for a fleet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.persistence.location import SQLITE_FILE, default_sqlite_url, sqlite_file
from adapters.persistence.spend_ledger import SqlAlchemySpendLedger
from adapters.persistence.sqlalchemy_unit_of_work import SqlAlchemyUnitOfWork, read_stamps
from ports.credential_cipher import CredentialCipher

__all__ = ["SQLITE_FILE", "Database", "default_sqlite_url", "make_engine", "parse_url", "sqlite_file"]
BUSY_TIMEOUT_MS = 5000
CONNECT_TIMEOUT_S = 10
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def parse_url(url: str) -> URL:
    """The URL with the async driver of its database (`postgresql://` as LiteLLM writes it works too)."""
    parsed = make_url(url)
    return parsed.set(drivername=_DRIVERS.get(parsed.drivername, parsed.drivername))


def make_engine(url: str, *, schema: str | None = None, pool_size: int = 10) -> AsyncEngine:
    """An engine with this adapter's connection settings. `schema` (PostgreSQL) puts every table in that
    schema, which must exist: tests use it to keep to themselves."""
    parsed = parse_url(url)
    if (path := sqlite_file(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed)
        event.listen(engine.sync_engine, "connect", _sqlite_connected)
        return engine
    connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT_S}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size, connect_args=connect_args
    )


def _sqlite_connected(dbapi_connection: Any, record: Any) -> None:
    # No implicit BEGIN from the driver: each read stands alone (read committed, as on PostgreSQL) until
    # a unit of work first writes and says BEGIN IMMEDIATE itself (see SqlAlchemyUnitOfWork.connection).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


class Database:
    """Owns the engine (and its pool): made once at startup, closed at shutdown. `cipher` encrypts the
    stored deployments' credentials."""

    def __init__(self, engine: AsyncEngine, cipher: CredentialCipher | None = None) -> None:
        self.engine = engine
        self._cipher = cipher

    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        pool_size: int = 10,
        cipher: CredentialCipher | None = None,
    ) -> Database:
        """Connects lazily: an unreachable database shows on first use, as `StoreUnavailable`."""
        return cls(make_engine(url, schema=schema, pool_size=pool_size), cipher)

    def unit_of_work(self) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.engine, self._cipher)

    def spend_ledger(self, shard: str) -> SqlAlchemySpendLedger:
        """The ledger writing to `shard`'s rows of the totals: one shard per gateway instance."""
        return SqlAlchemySpendLedger(self.engine, shard)

    async def stamps(self) -> Mapping[str, int]:
        """The committed change stamp of each topic, for pollers that keep caches fresh."""
        return await read_stamps(self.engine)

    def describe(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()
