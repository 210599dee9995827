"""Who may call the gateway: organizations, teams, users, virtual keys, end users and the budgets they share.

    Organization ─┬─ Team ─┬─ TeamMember (user, role) ── User ── VirtualKey
                  └─ OrgMember (user, role)               └─ (a key may belong to a team, a user or both)
    EndUser: the customer an application names in a request's `user` field.
    Budget: a shared set of limits any of them may point at with `budget.budget_id`.
Each of them keeps what it may spend, and has spent, in one `BudgetTerms` (its `budget`).

Entities are immutable records; a change is a new record (`dataclasses.replace`) saved through a unit of
work. Money is Decimal. Times are aware datetimes in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.budgets import NO_BUDGET, BudgetTerms
from domain.durations import parse_duration as parse_duration  # re-exported: callers import it from here
from domain.errors import BadRequestError
from domain.frozen import frozen

SECRET = "secret"
"""A field's metadata key marking a value that no answer and no audit entry may show."""


class Role(StrEnum):
    """A user's role across the whole gateway (LiteLLM's names)."""

    PROXY_ADMIN = "proxy_admin"
    PROXY_ADMIN_VIEWER = "proxy_admin_viewer"
    ORG_ADMIN = "org_admin"
    INTERNAL_USER = "internal_user"
    INTERNAL_USER_VIEWER = "internal_user_viewer"

    @property
    def rank(self) -> int:
        """Higher ranks hold every right of lower ones (viewers read what their writer peers may write)."""
        return _RANKS[self]


_RANKS = {
    Role.INTERNAL_USER_VIEWER: 0,
    Role.INTERNAL_USER: 1,
    Role.ORG_ADMIN: 2,
    Role.PROXY_ADMIN_VIEWER: 3,
    Role.PROXY_ADMIN: 4,
}

READ_ONLY_ROLES = frozenset({Role.PROXY_ADMIN_VIEWER, Role.INTERNAL_USER_VIEWER})


class MemberRole(StrEnum):
    """A user's role inside one team or organization."""

    ADMIN = "admin"
    USER = "user"


@frozen
class RateLimits:
    """Per-minute request and token limits and a cap on calls in flight; None means unlimited.
    `model_rpm_limit` / `model_tpm_limit` limit single public model names."""

    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    model_rpm_limit: Mapping[str, int] = field(default_factory=dict)
    model_tpm_limit: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("rpm_limit", "tpm_limit", "max_parallel_requests"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise BadRequestError(f"{name} must be zero or more, got {value}", param=name)

    def or_else(self, other: RateLimits) -> RateLimits:
        """Each limit of this record, or `other`'s where this one sets none."""
        return RateLimits(
            rpm_limit=self.rpm_limit if self.rpm_limit is not None else other.rpm_limit,
            tpm_limit=self.tpm_limit if self.tpm_limit is not None else other.tpm_limit,
            max_parallel_requests=(
                self.max_parallel_requests
                if self.max_parallel_requests is not None
                else other.max_parallel_requests
            ),
            model_rpm_limit=self.model_rpm_limit or other.model_rpm_limit,
            model_tpm_limit=self.model_tpm_limit or other.model_tpm_limit,
        )

    @property
    def any(self) -> bool:
        return (
            self.rpm_limit is not None
            or self.tpm_limit is not None
            or self.max_parallel_requests is not None
            or bool(self.model_rpm_limit)
            or bool(self.model_tpm_limit)
        )


NO_LIMITS = RateLimits()


@frozen
class Budget:
    """Spend and rate limits as an object of its own, which keys, teams, users, organizations and end
    users may share through `budget_id`."""

    budget_id: str
    terms: BudgetTerms = NO_BUDGET
    """Its spend limits, window and reset time."""
    limits: RateLimits = NO_LIMITS
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None

    def __post_init__(self) -> None:
        # Spend is counted against the records that point here, and budgets do not chain: the store
        # keeps neither, so either would be lost on the way through it.
        if self.terms.budget_id is not None or self.terms.spend:
            raise ValueError("Budget.terms names no other budget and holds no spend")


@frozen
class Member:
    """A user in a team or organization."""

    user_id: str
    role: MemberRole = MemberRole.USER
    user_email: str | None = None


@frozen
class Organization:
    organization_id: str
    organization_alias: str | None = None
    models: tuple[str, ...] = ()
    members: tuple[Member, ...] = ()
    budget: BudgetTerms = NO_BUDGET
    limits: RateLimits = NO_LIMITS
    blocked: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.user_id == user_id), None)


@frozen
class Team:
    team_id: str
    team_alias: str | None = None
    organization_id: str | None = None
    models: tuple[str, ...] = ()
    members: tuple[Member, ...] = ()
    budget: BudgetTerms = NO_BUDGET
    limits: RateLimits = NO_LIMITS
    blocked: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None

    def member(self, user_id: str) -> Member | None:
        return next((m for m in self.members if m.user_id == user_id), None)

    def is_admin(self, user_id: str) -> bool:
        found = self.member(user_id)
        return found is not None and found.role is MemberRole.ADMIN


@frozen
class User:
    user_id: str
    user_email: str | None = None
    user_alias: str | None = None
    user_role: Role = Role.INTERNAL_USER
    organization_id: str | None = None
    models: tuple[str, ...] = ()
    budget: BudgetTerms = NO_BUDGET
    limits: RateLimits = NO_LIMITS
    blocked: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None
    password_hash: str | None = field(default=None, repr=False, metadata={SECRET: True})
    """The argon2id hash of the console password, if one was set; never rendered or audited."""


@frozen
class Invitation:
    """A link that lets `user_id` set a password and sign in to the console, once, until `expires_at`
    (LiteLLM's invitation links)."""

    id: str
    user_id: str
    expires_at: datetime
    is_accepted: bool = False
    accepted_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None

    def usable(self, now: datetime) -> bool:
        return not self.is_accepted and now < self.expires_at


@frozen
class EndUser:
    """A customer of an application behind the gateway, named by a request's `user` field."""

    user_id: str
    alias: str | None = None
    blocked: bool = False
    budget: BudgetTerms = NO_BUDGET
    limits: RateLimits = NO_LIMITS
    allowed_model_region: str | None = None
    default_model: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@frozen
class VirtualKey:
    """A key the gateway issued. Only the SHA-256 of the secret is kept (`token`); `key_name` is the
    secret's recognisable abbreviation (`sk-...abcd`)."""

    token: str
    key_name: str
    key_alias: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    models: tuple[str, ...] = ()
    allowed_routes: tuple[str, ...] = ()
    allowed_cache_controls: tuple[str, ...] = ()
    """The body `cache` controls (and `Cache-Control` directives) the key may use; empty: all of them."""
    expires: datetime | None = None
    blocked: bool = False
    budget: BudgetTerms = NO_BUDGET
    limits: RateLimits = NO_LIMITS
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    updated_by: str | None = None

    def __post_init__(self) -> None:
        if not _SHA256_HEX.fullmatch(self.token):
            raise ValueError("VirtualKey.token is the SHA-256 hex digest of the key, never the key")

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@frozen
class AuditEntry:
    """One change made through the management API: who did what to which record, before and after."""

    id: str
    at: datetime
    actor: str
    action: str
    """`created`, `updated`, `deleted`, `blocked`, `unblocked`, `regenerated`, `member_added`, ..."""
    table: str
    """`key`, `team`, `user`, `organization`, `end_user`, `budget`, `model`."""
    object_id: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
