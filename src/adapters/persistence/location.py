"""Where the embedded database lives by default: known without loading SQLAlchemy (a start needs the URL
and the journal's folder long before the database, which opens in the background)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

SQLITE_FILE = "switchyard.db"


def default_sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{(directory / SQLITE_FILE).resolve()}"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite database URL (`sqlite+aiosqlite:///relative.db`, `sqlite:////abs/path.db`),
    read as SQLAlchemy reads it; None for an in-memory one or another database."""
    scheme, found, rest = url.partition("://")
    if not found or scheme.partition("+")[0] != "sqlite":
        return None
    path = unquote(rest.partition("?")[0])
    if not path.startswith("/"):
        return None
    database = path[1:]
    return None if database in ("", ":memory:") else Path(database)
