"""Durable records held in this process: the store of tests and of a gateway run without a database."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from adapters.persistence.kinds import KEYS, KINDS, TOPICS, Kind, creation_order, filtered, in_utc
from adapters.persistence.memory_response_store import InMemoryResponseStore
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from adapters.persistence.response_rows import Row
from domain.errors import ConflictError, NotFoundError
from domain.identity import AuditEntry
from ports.unit_of_work import AuditLog, Repository, UnitOfWork, Where

E = TypeVar("E")


class InMemoryStore:
    """The committed records. Units of work read them live (read committed, as PostgreSQL does) and
    replay their changes onto them at commit without an await in between, so a commit is atomic in the
    event loop and is checked against whatever others committed meanwhile."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {kind.name: {} for kind in KINDS}
        self.audit: list[AuditEntry] = []
        self.responses: dict[str, Row] = {}
        self.committed_stamps: dict[str, int] = dict.fromkeys(TOPICS, 0)
        self.ledger = InMemorySpendLedger()

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def spend_ledger(self, shard: str) -> InMemorySpendLedger:
        """The store's one ledger, whatever the shard: nothing contends in one process."""
        return self.ledger

    async def stamps(self) -> Mapping[str, int]:
        return dict(self.committed_stamps)

    def describe(self) -> str:
        return "memory"


def _matches(record: Any, where: Mapping[str, str | None]) -> bool:
    for name, wanted in where.items():
        if name == "member":
            if (wanted is None and record.members) or (wanted is not None and record.member(wanted) is None):
                return False
        elif filtered(record, name) != wanted:
            return False
    return True


def _alias_taken(records: Mapping[str, Any], record: Any) -> bool:
    return record.key_alias is not None and any(
        other.key_alias == record.key_alias and other.token != record.token for other in records.values()
    )


def _apply(kind: Kind, records: dict[str, Any], op: str, id: str, record: Any) -> None:
    """One change applied to `records`, raising what a database would for it."""
    if op == "delete":
        records.pop(id, None)
        return
    if op == "add" and id in records:
        raise ConflictError(f"a {kind.noun} with id {id!r} already exists")
    if op == "update" and id not in records:
        raise NotFoundError(f"no {kind.noun} with id {id!r}")
    if kind is KEYS and _alias_taken(records, record):
        raise ConflictError(f"a key with alias {record.key_alias!r} already exists", param="key_alias")
    records[id] = record


class InMemoryRepository(Repository[E], Generic[E]):
    """One kind's committed records seen through this unit of work's changes, which are kept in order so
    that commit can replay them onto whatever is committed by then. Records are copied in and out, so a
    caller mutating a record's mapping changes nothing stored."""

    def __init__(self, kind: Kind, store: InMemoryStore) -> None:
        self._kind = kind
        self._store = store
        self.changes: list[tuple[str, str, Any]] = []

    def view(self) -> dict[str, Any]:
        return self.replay(self._store.tables[self._kind.name])

    def replay(self, committed: Mapping[str, Any]) -> dict[str, Any]:
        records = dict(committed)
        for op, id, record in self.changes:
            _apply(self._kind, records, op, id, record)
        return records

    async def get(self, id: str) -> E | None:
        return copy.deepcopy(self.view().get(id))

    async def get_many(self, ids: Sequence[str]) -> list[E]:
        view = self.view()
        return [copy.deepcopy(view[id]) for id in dict.fromkeys(ids) if id in view]

    async def add(self, record: E) -> None:
        self._change("add", record)

    async def update(self, record: E) -> None:
        self._change("update", record)

    def _change(self, op: str, record: E) -> None:
        id = self._kind.id_of(record)
        saved = in_utc(copy.deepcopy(record))
        _apply(self._kind, self.view(), op, id, saved)
        self.changes.append((op, id, saved))

    async def delete(self, id: str) -> bool:
        if id not in self.view():
            return False
        self.changes.append(("delete", id, None))
        return True

    async def list(self, where: Where | None = None, *, offset: int = 0, limit: int | None = 100) -> list[E]:
        found = self._select(where)
        end = None if limit is None else offset + limit
        return [copy.deepcopy(record) for record in found[offset:end]]

    async def count(self, where: Where | None = None) -> int:
        return len(self._select(where))

    def _select(self, where: Where | None) -> list[Any]:
        checked = self._kind.check(where)
        found = [record for record in self.view().values() if _matches(record, checked)]
        return sorted(found, key=lambda record: creation_order(self._kind, record))


class InMemoryAuditLog(AuditLog):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.appended: list[AuditEntry] = []

    async def append(self, entry: AuditEntry) -> None:
        if any(e.id == entry.id for e in (*self._store.audit, *self.appended)):
            raise ConflictError(f"an audit entry with id {entry.id!r} already exists")
        self.appended.append(in_utc(copy.deepcopy(entry)))

    async def list(
        self, *, table: str | None = None, object_id: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[AuditEntry]:
        found = [
            entry
            for entry in (*self._store.audit, *self.appended)
            if (table is None or entry.table == table) and (object_id is None or entry.object_id == object_id)
        ]
        found.sort(key=lambda entry: (entry.at, entry.id), reverse=True)
        return [copy.deepcopy(entry) for entry in found[offset : offset + limit]]


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._repositories: dict[str, InMemoryRepository[Any]] = {
            kind.name: InMemoryRepository(kind, store) for kind in KINDS
        }
        self.keys = self._repositories["keys"]
        self.teams = self._repositories["teams"]
        self.users = self._repositories["users"]
        self.organizations = self._repositories["organizations"]
        self.end_users = self._repositories["end_users"]
        self.budgets = self._repositories["budgets"]
        self.deployments = self._repositories["deployments"]
        self.invitations = self._repositories["invitations"]
        self.audit = InMemoryAuditLog(store)
        self.responses = InMemoryResponseStore(store.responses)

    async def commit(self) -> None:
        # Replayed onto what is committed now, so a change another unit of work committed meanwhile
        # conflicts here as it would in a database; on an error nothing is published.
        tables = {
            kind.name: self._repositories[kind.name].replay(self._store.tables[kind.name])
            for kind in KINDS
            if self._repositories[kind.name].changes
        }
        audit_ids = {entry.id for entry in self._store.audit}
        for entry in self.audit.appended:
            if entry.id in audit_ids:
                raise ConflictError(f"an audit entry with id {entry.id!r} already exists")
        responses = self.responses.replayed()
        # Nothing below awaits: the whole commit is published at once.
        self._store.tables.update(tables)
        self._store.audit.extend(self.audit.appended)
        self.responses.publish(responses)
        for topic in {kind.topic for kind in KINDS if kind.name in tables}:
            self._store.committed_stamps[topic] += 1
        self._clear()

    async def rollback(self) -> None:
        self._clear()

    def _clear(self) -> None:
        for repository in self._repositories.values():
            repository.changes.clear()
        self.audit.appended.clear()
        self.responses.clear()

    async def stamps(self) -> Mapping[str, int]:
        return await self._store.stamps()
