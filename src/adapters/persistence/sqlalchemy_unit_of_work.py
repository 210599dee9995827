"""The unit of work over SQLAlchemy: one connection and one transaction per `async with`."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import TracebackType

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.persistence import tables
from adapters.persistence.credentials import CredentialColumns
from adapters.persistence.errors import translated
from adapters.persistence.kinds import TOPICS
from adapters.persistence.repositories import SHAPES, SqlAlchemyAuditLog, SqlAlchemyRepository
from adapters.persistence.response_store import SqlAlchemyResponseStore
from ports.credential_cipher import CredentialCipher
from ports.unit_of_work import UnitOfWork


async def read_stamps(engine: AsyncEngine) -> Mapping[str, int]:
    """The committed change stamps, in one small query on a connection of its own."""
    with translated():
        async with engine.connect() as connection:
            rows = (await connection.execute(select(tables.change_stamps))).all()
    return dict.fromkeys(TOPICS, 0) | {topic: stamp for topic, stamp in rows}


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Connects on first use and holds that connection until the `async with` ends. Commit bumps the
    stamp row of each topic written inside the same transaction: the row lock orders concurrent commits,
    so stamps advance in commit order. `cipher` encrypts the stored deployments' credentials (kept as
    given without one)."""

    def __init__(self, engine: AsyncEngine, cipher: CredentialCipher | None = None) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._writing = False
        self.written: set[str] = set()
        self.keys = SqlAlchemyRepository(SHAPES["keys"], self)
        self.teams = SqlAlchemyRepository(SHAPES["teams"], self)
        self.users = SqlAlchemyRepository(SHAPES["users"], self)
        self.organizations = SqlAlchemyRepository(SHAPES["organizations"], self)
        self.end_users = SqlAlchemyRepository(SHAPES["end_users"], self)
        self.budgets = SqlAlchemyRepository(SHAPES["budgets"], self)
        self.invitations = SqlAlchemyRepository(SHAPES["invitations"], self)
        self.deployments = SqlAlchemyRepository(SHAPES["deployments"], self, CredentialColumns(cipher))
        self.audit = SqlAlchemyAuditLog(self)
        self.responses = SqlAlchemyResponseStore(self)

    async def connection(self, *, write: bool = False) -> AsyncConnection:
        """The unit of work's connection, made ready to `write` when asked."""
        with translated():
            if self._connection is None:
                self._connection = await self._engine.connect()
            if write and not self._writing:
                if self._connection.dialect.name == "sqlite":
                    # Taking the write lock up front waits for other writers (busy_timeout); upgrading a
                    # transaction that has read would fail at once if one of them wrote in between.
                    await self._connection.exec_driver_sql("BEGIN IMMEDIATE")
                self._writing = True
        return self._connection

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.rollback()
        except Exception:
            # The block's own error says more than a failed rollback on a broken connection.
            if exc is None:
                raise
        finally:
            await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # A broken connection is discarded by the pool anyway.
            with contextlib.suppress(Exception):
                await connection.close()

    async def commit(self) -> None:
        if self._connection is None:
            return
        with translated():
            if self.written:
                await self._connection.execute(
                    update(tables.change_stamps)
                    .where(tables.change_stamps.c.topic.in_(sorted(self.written)))
                    .values(stamp=tables.change_stamps.c.stamp + 1)
                )
            await self._connection.commit()
        self.written.clear()
        self._writing = False

    async def rollback(self) -> None:
        self.written.clear()
        self._writing = False
        if self._connection is not None:
            with translated():
                await self._connection.rollback()

    async def stamps(self) -> Mapping[str, int]:
        return await read_stamps(self._engine)
