"""The port for durable records (keys, teams, users, organizations, end users, budgets, stored
deployments, the audit log, stored Responses-API responses), written in all-or-nothing units of work."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Generic, Self, TypeVar

from domain.deployments import DeploymentRecord
from domain.identity import AuditEntry, Budget, EndUser, Invitation, Organization, Team, User, VirtualKey
from ports.response_store import ResponseStore

E = TypeVar("E")

Where = Mapping[str, str | None]
"""Equality filters on a repository's documented fields; a None value matches records without one."""


class Repository(ABC, Generic[E]):
    """The records of one kind, by id (`VirtualKey.token`, `Team.team_id`, `User.user_id`,
    `Organization.organization_id`, `EndUser.user_id`, `Budget.budget_id`, `DeploymentRecord.model_id`,
    `Invitation.id`).

    Contract:
    - `add` raises `domain.errors.ConflictError` when the id exists (and for a key, when its `key_alias`
      is taken); `update` replaces the whole record and raises `domain.errors.NotFoundError` when it does
      not exist; `delete` says whether a record was deleted.
    - Records come back equal to what was saved (Decimals exact, datetimes aware UTC, mappings and
      tuples as given), members of teams and organizations included.
    - `list` returns records ordered by creation (then id), `offset`/`limit` paging, filtered by `where`;
      `count` counts what `list` would return without paging. Filter fields:
      keys: user_id, team_id, organization_id, key_alias, budget_id; teams: organization_id, team_alias,
      member (a user id among the members); users: user_email, organization_id, user_role;
      organizations: organization_alias, member; end users: alias, budget_id; budgets: none;
      deployments: model_name; invitations: user_id. An unknown field raises ValueError.
    - Changes are visible to other units of work only after `commit`.
    """

    @abstractmethod
    async def get(self, id: str) -> E | None: ...

    @abstractmethod
    async def get_many(self, ids: Sequence[str]) -> list[E]:
        """The records that exist among `ids`, in no particular order."""

    @abstractmethod
    async def add(self, record: E) -> None: ...

    @abstractmethod
    async def update(self, record: E) -> None: ...

    @abstractmethod
    async def delete(self, id: str) -> bool: ...

    @abstractmethod
    async def list(
        self, where: Where | None = None, *, offset: int = 0, limit: int | None = 100
    ) -> list[E]: ...

    @abstractmethod
    async def count(self, where: Where | None = None) -> int: ...


class AuditLog(ABC):
    """Append-only: who changed what. `list` returns the newest first, filtered by `table` and
    `object_id` when given."""

    @abstractmethod
    async def append(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    async def list(
        self, *, table: str | None = None, object_id: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[AuditEntry]: ...


IDENTITY = "identity"
MODELS = "models"


class UnitOfWork(ABC):
    """One transaction over every repository: `async with uow:` ... `await uow.commit()`; leaving the
    block without committing rolls everything back.

    Contract:
    - A unit of work is used once (one `async with`); a new one is made per transaction by the factory.
    - `commit` makes every change durable and visible together, and advances the change stamp of each
      topic written: `IDENTITY` for keys, teams, users, organizations, end users, budgets and
      invitations, `MODELS` for deployments (the audit log and stored responses change no stamp).
      Stamps only grow, in commit order, so that other instances can tell their caches are stale by
      reading `stamps()` alone.
    - Errors of the database library are translated: `ConflictError` for duplicates, and
      `StoreUnavailable` when the database cannot be reached.
    """

    keys: Repository[VirtualKey]
    teams: Repository[Team]
    users: Repository[User]
    organizations: Repository[Organization]
    end_users: Repository[EndUser]
    budgets: Repository[Budget]
    deployments: Repository[DeploymentRecord]
    invitations: Repository[Invitation]
    audit: AuditLog
    responses: ResponseStore

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.rollback()

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None:
        """Discards what was not committed; harmless after a commit."""

    @abstractmethod
    async def stamps(self) -> Mapping[str, int]:
        """The committed change stamp of each topic (0 for one never written)."""


class StoreUnavailable(Exception):
    """The database cannot be reached."""
