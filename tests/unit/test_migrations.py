"""Where the persistence adapter puts its database, how it reads database URLs, and when it migrates."""

from __future__ import annotations

from pathlib import Path

from adapters.persistence.database import Database, default_sqlite_url, parse_url
from adapters.persistence.location import sqlite_file
from adapters.persistence.migrate import HEAD, MIGRATIONS, at_head, head, upgrade


def test_the_default_database_is_an_sqlite_file_at_an_absolute_path(tmp_path: Path) -> None:
    url = default_sqlite_url(tmp_path / "data" / ".." / "data")

    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/data/switchyard.db"
    assert sqlite_file(url) == tmp_path.resolve() / "data" / "switchyard.db"


def test_urls_without_an_async_driver_get_one() -> None:
    assert parse_url("postgresql://u:p@db:5432/gw").drivername == "postgresql+asyncpg"
    assert parse_url("postgres://db/gw").drivername == "postgresql+asyncpg"
    assert parse_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert parse_url("postgresql+asyncpg://db/gw").drivername == "postgresql+asyncpg"


def test_in_memory_and_server_databases_have_no_file() -> None:
    assert sqlite_file("sqlite+aiosqlite://") is None
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file("postgresql://db/gw") is None


def test_the_migrations_ship_inside_the_package_with_one_head() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert head() == HEAD == "0007"


async def test_a_start_finds_a_current_schema_without_migrating_again(tmp_path: Path) -> None:
    url = default_sqlite_url(tmp_path)
    database = Database.open(url)
    try:
        assert await at_head(database.engine) is False
        assert await upgrade(url) == HEAD
        assert await at_head(database.engine) is True
    finally:
        await database.close()
