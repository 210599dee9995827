"""What every store adapter agrees on about each kind of record: its id, its stamp topic, its filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ports.unit_of_work import IDENTITY, MODELS, Where


@dataclass(frozen=True, slots=True)
class Kind:
    """One repository of the unit of work: `name` is its attribute on `UnitOfWork`."""

    name: str
    noun: str
    """How errors name one record: "key", "team", ..."""
    id_field: str
    topic: str
    filters: frozenset[str]

    def id_of(self, record: Any) -> str:
        return getattr(record, self.id_field)

    def check(self, where: Where | None) -> Mapping[str, str | None]:
        """The filters, or ValueError naming the first one this kind does not support."""
        where = where or {}
        for name in where:
            if name not in self.filters:
                supported = ", ".join(sorted(self.filters)) or "none"
                raise ValueError(f"cannot filter {self.name} by {name!r} (supported: {supported})")
        return where


def filtered(record: Any, name: str) -> Any:
    """The value a filter on `name` compares: `budget_id` is the one the record's budget terms hold."""
    return record.budget.budget_id if name == "budget_id" else getattr(record, name)


KEYS = Kind(
    "keys",
    "key",
    "token",
    IDENTITY,
    frozenset({"user_id", "team_id", "organization_id", "key_alias", "budget_id"}),
)
TEAMS = Kind("teams", "team", "team_id", IDENTITY, frozenset({"organization_id", "team_alias", "member"}))
USERS = Kind("users", "user", "user_id", IDENTITY, frozenset({"user_email", "organization_id", "user_role"}))
ORGANIZATIONS = Kind(
    "organizations", "organization", "organization_id", IDENTITY, frozenset({"organization_alias", "member"})
)
END_USERS = Kind("end_users", "end user", "user_id", IDENTITY, frozenset({"alias", "budget_id"}))
BUDGETS = Kind("budgets", "budget", "budget_id", IDENTITY, frozenset())
DEPLOYMENTS = Kind("deployments", "deployment", "model_id", MODELS, frozenset({"model_name"}))
INVITATIONS = Kind("invitations", "invitation", "id", IDENTITY, frozenset({"user_id"}))

KINDS = (KEYS, TEAMS, USERS, ORGANIZATIONS, END_USERS, BUDGETS, DEPLOYMENTS, INVITATIONS)
TOPICS = (IDENTITY, MODELS)

_EPOCH = datetime.min.replace(tzinfo=UTC)


def creation_order(kind: Kind, record: Any) -> tuple[bool, datetime, str]:
    """Records by creation, then id; records without `created_at` first (SQL's NULLS FIRST)."""
    created = getattr(record, "created_at", None)
    if not isinstance(created, datetime):
        return (False, _EPOCH, kind.id_of(record))
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (True, created, kind.id_of(record))


def in_utc(record: Any) -> Any:
    """`record` with its datetimes in UTC (a naive one taken to be UTC), as a database gives them back;
    those of a record's parts (its budget terms) too."""
    changes = {}
    for field in fields(record):
        value = getattr(record, field.name)
        if isinstance(value, datetime) and value.tzinfo is not UTC:
            changes[field.name] = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        elif is_dataclass(value) and not isinstance(value, type) and (part := in_utc(value)) is not value:
            changes[field.name] = part
    return replace(record, **changes) if changes else record
