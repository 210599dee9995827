"""Brings a database's schema to the newest revision: at startup and from `switchyard db upgrade`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.persistence.database import make_engine
from adapters.persistence.errors import translated
from adapters.persistence.location import sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
ADVISORY_LOCK = 0x5357_4954_4348  # "SWITCH": one lock id for every Switchyard migration on a server
HEAD = "0007"
"""The newest revision, so that a start finds the schema current without loading Alembic (20 MB and a
quarter second); tests/unit/test_migrations.py holds it to the migrations' own head."""


async def at_head(engine: AsyncEngine) -> bool:
    """Whether the database is at `HEAD` already (one small query). Raises `StoreUnavailable` when the
    database cannot be reached."""
    with translated():
        async with engine.connect() as connection:
            try:
                found = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            except DBAPIError:  # no schema yet
                return False
    return found == HEAD


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version of Switchyard knows."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


async def upgrade(url: str, *, schema: str | None = None) -> str:
    """Migrates the database at `url` to the newest revision and returns it. Instances starting at once
    take turns (a lock on the server for PostgreSQL, on a file beside the database for SQLite); the later
    ones find nothing left to do. Raises `StoreUnavailable` when the database cannot be reached."""
    from alembic import command

    engine = make_engine(url, schema=schema, pool_size=1)
    try:
        with translated():
            async with _locked(url, engine) as connection:
                await connection.begin()
                if engine.dialect.name == "sqlite":
                    await connection.exec_driver_sql("BEGIN IMMEDIATE")
                await connection.run_sync(lambda sync: command.upgrade(_config(sync), "head"))
                await connection.commit()
    finally:
        await engine.dispose()
    return head()


async def current(url: str, *, schema: str | None = None) -> str | None:
    """The revision the database at `url` is at (None before the first migration)."""
    engine = make_engine(url, schema=schema, pool_size=1)
    try:
        with translated():
            async with engine.connect() as connection:
                return await connection.run_sync(_current_revision)
    finally:
        await engine.dispose()


def _current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@contextlib.asynccontextmanager
async def _locked(url: str, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    path = sqlite_file(url)
    async with contextlib.AsyncExitStack() as stack:
        if path is not None:
            await stack.enter_async_context(_file_lock(path.with_name(path.name + ".lock")))
        connection = await stack.enter_async_context(engine.connect())
        if engine.dialect.name == "postgresql":
            # A session lock: it outlives the transactions below and ends with the connection at worst.
            await connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK})
            await connection.commit()
            try:
                yield connection
            finally:
                await connection.rollback()
                await connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK})
                await connection.commit()
        else:
            yield connection


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: one instance per SQLite file is the only safe setup there anyway
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        # In a thread: flock blocks, and a second upgrade in this same event loop must not stall the first.
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
