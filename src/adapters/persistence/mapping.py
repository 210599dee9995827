"""Rows to domain records and back, by hand: the only place that knows both shapes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from domain.budgets import ZERO, BudgetTerms
from domain.deployments import DeploymentRecord
from domain.identity import (
    AuditEntry,
    Budget,
    EndUser,
    Invitation,
    Member,
    MemberRole,
    Organization,
    RateLimits,
    Role,
    Team,
    User,
    VirtualKey,
)

Row = Mapping[str, Any]


def _limits_row(limits: RateLimits) -> dict[str, Any]:
    return {
        "rpm_limit": limits.rpm_limit,
        "tpm_limit": limits.tpm_limit,
        "max_parallel_requests": limits.max_parallel_requests,
        "model_rpm_limit": dict(limits.model_rpm_limit),
        "model_tpm_limit": dict(limits.model_tpm_limit),
    }


def _limits(value: Mapping[str, Any]) -> RateLimits:
    return RateLimits(
        rpm_limit=value.get("rpm_limit"),
        tpm_limit=value.get("tpm_limit"),
        max_parallel_requests=value.get("max_parallel_requests"),
        model_rpm_limit=dict(value.get("model_rpm_limit") or {}),
        model_tpm_limit=dict(value.get("model_tpm_limit") or {}),
    )


def _money_map_row(value: Mapping[str, Decimal]) -> dict[str, str]:
    # JSON has no decimals: amounts travel as their exact text.
    return {name: str(amount) for name, amount in value.items()}


def _money_map(value: Mapping[str, str]) -> dict[str, Decimal]:
    return {name: Decimal(amount) for name, amount in value.items()}


def _terms_row(terms: BudgetTerms, *, shared: bool = False) -> dict[str, Any]:
    """The budget columns (`tables._budget_terms`). `shared`: a Budget's row, whose `budget_id` is its own
    id and which keeps no spend."""
    row = {
        "max_budget": terms.max_budget,
        "soft_budget": terms.soft_budget,
        "budget_duration": terms.budget_duration,
        "model_max_budget": _money_map_row(terms.model_max_budget),
        "budget_reset_at": terms.budget_reset_at,
    }
    if not shared:
        row |= {"budget_id": terms.budget_id, "spend": terms.spend}
    return row


def _terms(row: Row, *, shared: bool = False) -> BudgetTerms:
    return BudgetTerms(
        max_budget=row["max_budget"],
        soft_budget=row["soft_budget"],
        budget_duration=row["budget_duration"],
        budget_id=None if shared else row["budget_id"],
        model_max_budget=_money_map(row["model_max_budget"]),
        spend=ZERO if shared else row["spend"],
        budget_reset_at=row["budget_reset_at"],
    )


def _stamps(record: Any, *, by: bool = True) -> dict[str, Any]:
    row = {"created_at": record.created_at, "updated_at": record.updated_at}
    if by:
        row |= {"created_by": record.created_by, "updated_by": record.updated_by}
    return row


def _spending(record: Any) -> dict[str, Any]:
    """The columns keys, teams, users and organizations share."""
    return {
        "models": list(record.models),
        **_terms_row(record.budget),
        "limits": _limits_row(record.limits),
        "blocked": record.blocked,
        "metadata": dict(record.metadata),
    }


def _spending_fields(row: Row) -> dict[str, Any]:
    return {
        "models": tuple(row["models"]),
        "budget": _terms(row),
        "limits": _limits(row["limits"]),
        "blocked": row["blocked"],
        "metadata": row["metadata"],
    }


def _stamp_fields(row: Row, *, by: bool = True) -> dict[str, Any]:
    fields = {"created_at": row["created_at"], "updated_at": row["updated_at"]}
    if by:
        fields |= {"created_by": row["created_by"], "updated_by": row["updated_by"]}
    return fields


def key_row(key: VirtualKey) -> dict[str, Any]:
    return {
        "token": key.token,
        "key_name": key.key_name,
        "key_alias": key.key_alias,
        "user_id": key.user_id,
        "team_id": key.team_id,
        "organization_id": key.organization_id,
        "allowed_routes": list(key.allowed_routes),
        "allowed_cache_controls": list(key.allowed_cache_controls),
        "expires": key.expires,
        "tags": list(key.tags),
        **_spending(key),
        **_stamps(key),
    }


def key(row: Row, members: Sequence[Row] = ()) -> VirtualKey:
    return VirtualKey(
        token=row["token"],
        key_name=row["key_name"],
        key_alias=row["key_alias"],
        user_id=row["user_id"],
        team_id=row["team_id"],
        organization_id=row["organization_id"],
        allowed_routes=tuple(row["allowed_routes"]),
        allowed_cache_controls=tuple(row["allowed_cache_controls"]),
        expires=row["expires"],
        tags=tuple(row["tags"]),
        **_spending_fields(row),
        **_stamp_fields(row),
    )


def member_rows(owner: str, owner_id: str, members: Sequence[Member]) -> list[dict[str, Any]]:
    return [
        {
            owner: owner_id,
            "position": position,
            "user_id": m.user_id,
            "role": m.role.value,
            "user_email": m.user_email,
        }
        for position, m in enumerate(members)
    ]


def _members(rows: Sequence[Row]) -> tuple[Member, ...]:
    ordered = sorted(rows, key=lambda row: row["position"])
    return tuple(Member(row["user_id"], MemberRole(row["role"]), row["user_email"]) for row in ordered)


def team_row(team: Team) -> dict[str, Any]:
    return {
        "team_id": team.team_id,
        "team_alias": team.team_alias,
        "organization_id": team.organization_id,
        "tags": list(team.tags),
        **_spending(team),
        **_stamps(team),
    }


def team(row: Row, members: Sequence[Row] = ()) -> Team:
    return Team(
        team_id=row["team_id"],
        team_alias=row["team_alias"],
        organization_id=row["organization_id"],
        members=_members(members),
        tags=tuple(row["tags"]),
        **_spending_fields(row),
        **_stamp_fields(row),
    )


def user_row(user: User) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "user_email": user.user_email,
        "user_alias": user.user_alias,
        "user_role": user.user_role.value,
        "organization_id": user.organization_id,
        **_spending(user),
        **_stamps(user),
        "password_hash": user.password_hash,
    }


def user(row: Row, members: Sequence[Row] = ()) -> User:
    return User(
        user_id=row["user_id"],
        user_email=row["user_email"],
        user_alias=row["user_alias"],
        user_role=Role(row["user_role"]),
        organization_id=row["organization_id"],
        **_spending_fields(row),
        **_stamp_fields(row),
        password_hash=row["password_hash"],
    )


def invitation_row(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "user_id": invitation.user_id,
        "expires_at": invitation.expires_at,
        "is_accepted": invitation.is_accepted,
        "accepted_at": invitation.accepted_at,
        **_stamps(invitation),
    }


def invitation(row: Row, members: Sequence[Row] = ()) -> Invitation:
    return Invitation(
        id=row["id"],
        user_id=row["user_id"],
        expires_at=row["expires_at"],
        is_accepted=row["is_accepted"],
        accepted_at=row["accepted_at"],
        **_stamp_fields(row),
    )


def organization_row(organization: Organization) -> dict[str, Any]:
    return {
        "organization_id": organization.organization_id,
        "organization_alias": organization.organization_alias,
        "tags": list(organization.tags),
        **_spending(organization),
        **_stamps(organization),
    }


def organization(row: Row, members: Sequence[Row] = ()) -> Organization:
    return Organization(
        organization_id=row["organization_id"],
        organization_alias=row["organization_alias"],
        members=_members(members),
        tags=tuple(row["tags"]),
        **_spending_fields(row),
        **_stamp_fields(row),
    )


def end_user_row(end_user: EndUser) -> dict[str, Any]:
    return {
        "user_id": end_user.user_id,
        "alias": end_user.alias,
        "blocked": end_user.blocked,
        **_terms_row(end_user.budget),
        "limits": _limits_row(end_user.limits),
        "allowed_model_region": end_user.allowed_model_region,
        "default_model": end_user.default_model,
        "metadata": dict(end_user.metadata),
        **_stamps(end_user, by=False),
    }


def end_user(row: Row, members: Sequence[Row] = ()) -> EndUser:
    return EndUser(
        user_id=row["user_id"],
        alias=row["alias"],
        blocked=row["blocked"],
        budget=_terms(row),
        limits=_limits(row["limits"]),
        allowed_model_region=row["allowed_model_region"],
        default_model=row["default_model"],
        metadata=row["metadata"],
        **_stamp_fields(row, by=False),
    )


def budget_row(budget: Budget) -> dict[str, Any]:
    return {
        "budget_id": budget.budget_id,
        **_terms_row(budget.terms, shared=True),
        "limits": _limits_row(budget.limits),
        **_stamps(budget),
    }


def budget(row: Row, members: Sequence[Row] = ()) -> Budget:
    return Budget(
        budget_id=row["budget_id"],
        terms=_terms(row, shared=True),
        limits=_limits(row["limits"]),
        **_stamp_fields(row),
    )


def deployment_row(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "model_id": record.model_id,
        "model_name": record.model_name,
        "litellm_params": dict(record.litellm_params),
        "model_info": dict(record.model_info),
        **_stamps(record),
    }


def deployment(row: Row, members: Sequence[Row] = ()) -> DeploymentRecord:
    return DeploymentRecord(
        model_id=row["model_id"],
        model_name=row["model_name"],
        litellm_params=row["litellm_params"],
        model_info=row["model_info"],
        **_stamp_fields(row),
        unreadable=row.get("unreadable", ()),
    )


def audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "table_name": entry.table,
        "object_id": entry.object_id,
        "before": None if entry.before is None else dict(entry.before),
        "after": None if entry.after is None else dict(entry.after),
    }


def audit_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        table=row["table_name"],
        object_id=row["object_id"],
        before=row["before"],
        after=row["after"],
    )


ToRow = Callable[[Any], dict[str, Any]]
FromRow = Callable[[Row, Sequence[Row]], Any]
