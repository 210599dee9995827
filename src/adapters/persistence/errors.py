"""The one place database library errors become the port's errors."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from domain.errors import ConflictError
from ports.unit_of_work import StoreUnavailable

Conflict = Callable[[str], ConflictError]
"""Builds the ConflictError for a duplicate, given the database's own words about it."""


def _generic_conflict(detail: str) -> ConflictError:
    return ConflictError(f"the record already exists ({detail})")


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, OSError):  # ConnectionRefusedError, TimeoutError, socket errors
        return True
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    asyncpg = sys.modules.get("asyncpg")  # imported only when PostgreSQL is in use
    return asyncpg is not None and isinstance(
        exc,
        (
            asyncpg.exceptions.PostgresConnectionError,
            asyncpg.exceptions.InterfaceError,
            asyncpg.exceptions.CannotConnectNowError,
            asyncpg.exceptions.TooManyConnectionsError,
        ),
    )


@contextmanager
def translated(conflict: Conflict = _generic_conflict) -> Iterator[None]:
    """Duplicates raise `ConflictError` (built by `conflict`); a database that cannot be reached raises
    `StoreUnavailable`; anything else is a bug and passes through."""
    try:
        yield
    except IntegrityError as exc:
        raise conflict(str(exc.orig)) from exc
    except Exception as exc:
        if _unreachable(exc):
            raise StoreUnavailable(f"the database cannot be reached: {exc}") from exc
        raise
