"""Stored Responses-API responses held in this process, inside the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from adapters.persistence.response_rows import Row, chain_rows, response_row, stored_response
from domain.errors import ConflictError
from domain.responses import ResponseStatus, StoredResponse
from ports.response_store import ResponseStore

Change = tuple[str, str, Row | None, ResponseStatus | None]
"""(op, id, row, only_if): op is "add", "replace" or "delete"."""


class InMemoryResponseStore(ResponseStore):
    """Keeps rows as the database does (items and bodies as JSON text), so records come back as they would
    from it and no caller can change one by mutating what it got. `committed` is the store's, read live;
    this unit of work's own rows (None for deleted) shadow it until commit replays its changes onto it."""

    def __init__(self, committed: dict[str, Row]) -> None:
        self._committed = committed
        self._own: dict[str, Row | None] = {}
        self.changes: list[Change] = []

    def _row(self, id: str) -> Row | None:
        return self._own[id] if id in self._own else self._committed.get(id)

    def _change(self, op: str, id: str, row: Row | None, only_if: ResponseStatus | None = None) -> None:
        self._own[id] = row
        self.changes.append((op, id, row, only_if))

    async def add(self, response: StoredResponse) -> None:
        if self._row(response.id) is not None:
            raise ConflictError(f"a response with id {response.id!r} already exists")
        self._change("add", response.id, response_row(response))

    async def add_new(self, responses: Sequence[StoredResponse]) -> None:
        for response in responses:
            if self._row(response.id) is None:
                self._change("add_new", response.id, response_row(response))

    async def get(self, id: str) -> StoredResponse | None:
        row = self._row(id)
        return None if row is None else stored_response(row)

    async def chain(self, id: str) -> list[StoredResponse]:
        return [stored_response(row) for row in chain_rows(id, self._row)]

    async def replace(self, response: StoredResponse, *, only_if: ResponseStatus | None = None) -> bool:
        if not _replaceable(self._row(response.id), only_if):
            return False
        self._change("replace", response.id, response_row(response), only_if)
        return True

    async def delete(self, id: str) -> bool:
        if self._row(id) is None:
            return False
        self._change("delete", id, None)
        return True

    async def purge(self, now: datetime) -> int:
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
        ids = {*self._committed, *self._own}
        expired = [id for id in ids if (row := self._row(id)) is not None and row["expires_at"] <= now]
        for id in expired:
            self._change("delete", id, None)
        return len(expired)

    def replayed(self) -> Mapping[str, Row | None]:
        """This unit of work's changes replayed onto what is committed now: the rows to publish (None to
        delete). Raises ConflictError, publishing nothing, where another unit of work committed meanwhile
        what a database would have kept this one from doing: the same id added, or a replaced record
        changed or deleted (the database's row lock would have made that other one wait instead)."""
        rows: dict[str, Row | None] = {}
        for op, id, row, only_if in self.changes:
            current = rows[id] if id in rows else self._committed.get(id)
            if op == "add" and current is not None:
                raise ConflictError(f"a response with id {id!r} already exists")
            if op == "add_new" and current is not None:
                continue
            if op == "replace" and not _replaceable(current, only_if):
                raise ConflictError(f"the response {id!r} changed in another unit of work meanwhile")
            rows[id] = row
        return rows

    def publish(self, rows: Mapping[str, Row | None]) -> None:
        for id, row in rows.items():
            if row is None:
                self._committed.pop(id, None)
            else:
                self._committed[id] = row
        self.clear()

    def clear(self) -> None:
        self._own.clear()
        self.changes.clear()


def _replaceable(row: Row | None, only_if: ResponseStatus | None) -> bool:
    return row is not None and (only_if is None or row["status"] == ResponseStatus(only_if).value)
