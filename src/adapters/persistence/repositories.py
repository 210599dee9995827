"""The repositories and the audit log of the SQLAlchemy unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Table, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.persistence import mapping, tables
from adapters.persistence.credentials import CredentialColumns
from adapters.persistence.errors import Conflict, translated
from adapters.persistence.kinds import (
    BUDGETS,
    DEPLOYMENTS,
    END_USERS,
    INVITATIONS,
    KEYS,
    ORGANIZATIONS,
    TEAMS,
    USERS,
    Kind,
)
from domain.errors import ConflictError, NotFoundError
from domain.identity import AuditEntry
from ports.unit_of_work import AuditLog, Repository, Where

E = TypeVar("E")


class Session(Protocol):
    """What repositories need of their unit of work: its one connection, and a note of topics written."""

    written: set[str]

    async def connection(self, *, write: bool = False) -> AsyncConnection: ...


@dataclass(frozen=True, slots=True)
class Shape:
    """How one kind of record is stored: its table, its mapping and, for teams and organizations, the
    table of its members."""

    kind: Kind
    table: Table
    to_row: mapping.ToRow
    from_row: mapping.FromRow
    members: Table | None = None
    owner: str = ""
    """The members table's column naming the team or organization."""


SHAPES = {
    shape.kind.name: shape
    for shape in (
        Shape(KEYS, tables.keys, mapping.key_row, mapping.key),
        Shape(TEAMS, tables.teams, mapping.team_row, mapping.team, tables.team_members, "team_id"),
        Shape(USERS, tables.users, mapping.user_row, mapping.user),
        Shape(
            ORGANIZATIONS,
            tables.organizations,
            mapping.organization_row,
            mapping.organization,
            tables.organization_members,
            "organization_id",
        ),
        Shape(END_USERS, tables.end_users, mapping.end_user_row, mapping.end_user),
        Shape(BUDGETS, tables.budgets, mapping.budget_row, mapping.budget),
        Shape(DEPLOYMENTS, tables.deployments, mapping.deployment_row, mapping.deployment),
        Shape(INVITATIONS, tables.invitations, mapping.invitation_row, mapping.invitation),
    )
}


def _conflict(kind: Kind, record: Any) -> Conflict:
    def build(detail: str) -> ConflictError:
        if kind is KEYS and "key_alias" in detail:
            return ConflictError(f"a key with alias {record.key_alias!r} already exists", param="key_alias")
        return ConflictError(f"a {kind.noun} with id {kind.id_of(record)!r} already exists")

    return build


class SqlAlchemyRepository(Repository[E], Generic[E]):
    """`credentials`: the stored deployments' encryption of their credential params."""

    def __init__(self, shape: Shape, session: Session, credentials: CredentialColumns | None = None) -> None:
        self._shape = shape
        self._session = session
        self._credentials = credentials
        self._id = shape.table.c[shape.kind.id_field]

    async def get(self, id: str) -> E | None:
        found = await self._select(self._id == id)
        return found[0] if found else None

    async def get_many(self, ids: Sequence[str]) -> list[E]:
        return await self._select(self._id.in_(list(ids))) if ids else []

    async def add(self, record: E) -> None:
        connection = await self._session.connection(write=True)
        with translated(_conflict(self._shape.kind, record)):
            # A savepoint keeps the unit of work usable after a duplicate (PostgreSQL aborts the whole
            # transaction on an error otherwise).
            async with connection.begin_nested():
                await connection.execute(insert(self._shape.table).values(self._row(record)))
                await self._insert_members(connection, record)
        self._session.written.add(self._shape.kind.topic)

    async def update(self, record: E) -> None:
        connection = await self._session.connection(write=True)
        id = self._shape.kind.id_of(record)
        with translated(_conflict(self._shape.kind, record)):
            async with connection.begin_nested():
                result = await connection.execute(
                    update(self._shape.table).where(self._id == id).values(self._row(record))
                )
                if result.rowcount == 0:
                    raise NotFoundError(f"no {self._shape.kind.noun} with id {id!r}")
                await self._delete_members(connection, id)
                await self._insert_members(connection, record)
        self._session.written.add(self._shape.kind.topic)

    async def delete(self, id: str) -> bool:
        connection = await self._session.connection(write=True)
        with translated():
            await self._delete_members(connection, id)
            result = await connection.execute(delete(self._shape.table).where(self._id == id))
        if result.rowcount == 0:
            return False
        self._session.written.add(self._shape.kind.topic)
        return True

    async def list(self, where: Where | None = None, *, offset: int = 0, limit: int | None = 100) -> list[E]:
        return await self._select(*self._conditions(where), offset=offset, limit=limit)

    async def count(self, where: Where | None = None) -> int:
        query = select(func.count()).select_from(self._shape.table).where(*self._conditions(where))
        connection = await self._session.connection()
        with translated():
            return (await connection.execute(query)).scalar_one()

    def _conditions(self, where: Where | None) -> list[ColumnElement[bool]]:
        conditions = []
        for name, value in self._shape.kind.check(where).items():
            if name == "member":
                conditions.append(self._has_member(value))
            else:
                column = self._shape.table.c[name]
                conditions.append(column.is_(None) if value is None else column == value)
        return conditions

    def _has_member(self, user_id: str | None) -> ColumnElement[bool]:
        members = self._shape.members
        assert members is not None
        query = select(members.c.user_id).where(members.c[self._shape.owner] == self._id)
        if user_id is None:
            return ~exists(query)
        return exists(query.where(members.c.user_id == user_id))

    async def _select(
        self, *conditions: ColumnElement[bool], offset: int = 0, limit: int | None = None
    ) -> list[E]:
        connection = await self._session.connection()
        # Ids in code point order, as Python and SQLite sort them, whatever the database's collation.
        by_id = self._id.collate("C") if connection.dialect.name == "postgresql" else self._id
        query = (
            select(self._shape.table)
            .where(*conditions)
            .order_by(self._shape.table.c.created_at.asc().nulls_first(), by_id)
            .offset(offset)
            .limit(limit)
        )
        with translated():
            rows = (await connection.execute(query)).mappings().all()
            members = await self._members(connection, [row[self._id.name] for row in rows])
        if self._credentials is not None:
            rows = [self._credentials.opened_row(row) for row in rows]
        return [self._shape.from_row(row, members.get(row[self._id.name], ())) for row in rows]

    def _row(self, record: E) -> dict[str, Any]:
        row = self._shape.to_row(record)
        return row if self._credentials is None else self._credentials.sealed_row(row)

    async def _members(self, connection: AsyncConnection, ids: list[str]) -> dict[str, list[Any]]:
        table = self._shape.members
        if table is None or not ids:
            return {}
        query = select(table).where(table.c[self._shape.owner].in_(ids))
        found: dict[str, list[Any]] = {}
        for row in (await connection.execute(query)).mappings():
            found.setdefault(row[self._shape.owner], []).append(row)
        return found

    async def _insert_members(self, connection: AsyncConnection, record: Any) -> None:
        if self._shape.members is not None and record.members:
            rows = mapping.member_rows(self._shape.owner, self._shape.kind.id_of(record), record.members)
            await connection.execute(insert(self._shape.members), rows)

    async def _delete_members(self, connection: AsyncConnection, id: str) -> None:
        if self._shape.members is not None:
            members = self._shape.members
            await connection.execute(delete(members).where(members.c[self._shape.owner] == id))


class SqlAlchemyAuditLog(AuditLog):
    def __init__(self, session: Session) -> None:
        self._session = session

    async def append(self, entry: AuditEntry) -> None:
        connection = await self._session.connection(write=True)
        duplicate = ConflictError(f"an audit entry with id {entry.id!r} already exists")
        with translated(lambda _: duplicate):
            async with connection.begin_nested():
                await connection.execute(insert(tables.audit_log).values(mapping.audit_row(entry)))

    async def list(
        self, *, table: str | None = None, object_id: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[AuditEntry]:
        log = tables.audit_log
        connection = await self._session.connection()
        by_id = log.c.id.collate("C") if connection.dialect.name == "postgresql" else log.c.id
        query = select(log).order_by(log.c.at.desc(), by_id.desc()).offset(offset).limit(limit)
        if table is not None:
            query = query.where(log.c.table_name == table)
        if object_id is not None:
            query = query.where(log.c.object_id == object_id)
        with translated():
            rows = (await connection.execute(query)).mappings().all()
        return [mapping.audit_entry(row) for row in rows]
