"""Stored Responses-API responses over SQLAlchemy, on the unit of work's connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Integer, Select, delete, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.persistence import tables
from adapters.persistence.errors import translated
from adapters.persistence.repositories import Session
from adapters.persistence.response_rows import MAX_CHAIN, chain_rows, response_row, stored_response
from domain.errors import ConflictError
from domain.responses import ResponseStatus, StoredResponse
from ports.response_store import ResponseStore

_responses = tables.responses


def _insert_if_new(connection: AsyncConnection) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING: a duplicate shows as no row inserted, without an error that
    would abort a PostgreSQL transaction (and so without a savepoint's round trips)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(_responses).on_conflict_do_nothing(index_elements=[_responses.c.id])


def _chain_query(id: str) -> Select[Any]:
    """The rows of `id` and its ancestors in one recursive query (ids only while walking, then each row
    once); a cycle walks on only until the depth cap, and `chain_rows` orders and stops at it."""
    one = literal_column("1", Integer)
    walk = (
        select(_responses.c.id, _responses.c.previous_response_id, one.label("depth"))
        .where(_responses.c.id == id)
        .cte("walk", recursive=True)
    )
    step = (
        select(_responses.c.id, _responses.c.previous_response_id, walk.c.depth + one)
        .join(walk, _responses.c.id == walk.c.previous_response_id)
        .where(walk.c.depth < MAX_CHAIN)
    )
    walk = walk.union_all(step)
    return select(_responses).where(_responses.c.id.in_(select(walk.c.id)))


class SqlAlchemyResponseStore(ResponseStore):
    """Writes advance no change stamp: no instance caches stored responses."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(self, response: StoredResponse) -> None:
        connection = await self._session.connection(write=True)
        with translated():
            result = await connection.execute(_insert_if_new(connection).values(response_row(response)))
        if result.rowcount == 0:
            raise ConflictError(f"a response with id {response.id!r} already exists")

    async def add_new(self, responses: Sequence[StoredResponse]) -> None:
        if not responses:
            return
        connection = await self._session.connection(write=True)
        with translated():
            await connection.execute(_insert_if_new(connection), [response_row(r) for r in responses])

    async def get(self, id: str) -> StoredResponse | None:
        connection = await self._session.connection()
        with translated():
            row = (
                (await connection.execute(select(_responses).where(_responses.c.id == id))).mappings().first()
            )
        return None if row is None else stored_response(row)

    async def chain(self, id: str) -> list[StoredResponse]:
        connection = await self._session.connection()
        with translated():
            rows = {row["id"]: row for row in (await connection.execute(_chain_query(id))).mappings()}
        return [stored_response(row) for row in chain_rows(id, rows.get)]

    async def replace(self, response: StoredResponse, *, only_if: ResponseStatus | None = None) -> bool:
        values = response_row(response)
        query = update(_responses).where(_responses.c.id == values.pop("id")).values(values)
        if only_if is not None:
            query = query.where(_responses.c.status == ResponseStatus(only_if).value)
        connection = await self._session.connection(write=True)
        with translated():
            result = await connection.execute(query)
        return result.rowcount > 0

    async def delete(self, id: str) -> bool:
        connection = await self._session.connection(write=True)
        with translated():
            result = await connection.execute(delete(_responses).where(_responses.c.id == id))
        return result.rowcount > 0

    async def purge(self, now: datetime) -> int:
        connection = await self._session.connection(write=True)
        with translated():
            result = await connection.execute(delete(_responses).where(_responses.c.expires_at <= now))
        return result.rowcount
