"""The port for stored Responses-API responses (the state behind `previous_response_id`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from domain.responses import ResponseStatus, StoredResponse


class ResponseStore(ABC):
    """Stored responses, by id, inside a unit of work (`uow.responses`): changes are visible to other
    units of work, and other instances sharing the database, only after `commit`.

    Contract:
    - `add` raises `domain.errors.ConflictError` when the id exists. `add_new` adds many at once (one
      statement), leaving any whose id exists as stored: a batch written twice is written once.
    - Records come back equal to what was saved: datetimes aware UTC, items and bodies as given (nested
      mappings, lists as lists, strings, numbers, booleans and nulls exactly, key order kept).
    - `replace` replaces the whole record and says whether it did; with `only_if`, only while the stored
      record's status is that one (so a cancelled background call is not overwritten by its late result,
      whichever instance ran it). A missing record is not replaced.
    - `chain(id)` is the response and its ancestors by `previous_response_id`, oldest first; it stops
      at the first ancestor that is missing, and is empty when `id` itself is missing.
    - `get` and `chain` return records whatever their expiry; `purge(now)` deletes those expired at
      `now` and says how many.
    """

    @abstractmethod
    async def add(self, response: StoredResponse) -> None: ...

    @abstractmethod
    async def add_new(self, responses: Sequence[StoredResponse]) -> None: ...

    @abstractmethod
    async def get(self, id: str) -> StoredResponse | None: ...

    @abstractmethod
    async def chain(self, id: str) -> list[StoredResponse]: ...

    @abstractmethod
    async def replace(self, response: StoredResponse, *, only_if: ResponseStatus | None = None) -> bool: ...

    @abstractmethod
    async def delete(self, id: str) -> bool: ...

    @abstractmethod
    async def purge(self, now: datetime) -> int: ...
