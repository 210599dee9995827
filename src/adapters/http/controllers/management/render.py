"""Management records in LiteLLM's response shapes: times in ISO 8601, money as JSON numbers, LiteLLM's
fields that Switchyard does not use present with their empty values (clients read them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from orjson import Fragment

from adapters.http.exchange import money_json
from application.management import Issued, Joined, NewUser, OrganizationView, Page, TeamView, UserView
from domain.budgets import BudgetTerms
from domain.identity import (
    Budget,
    EndUser,
    Invitation,
    Member,
    MemberRole,
    Organization,
    RateLimits,
    Team,
    User,
    VirtualKey,
)

Json = dict[str, Any]


def number(amount: Decimal | None) -> Fragment | None:
    """Money as an exact JSON number."""
    return money_json(amount) if amount is not None else None


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def limits(record_limits: RateLimits) -> Json:
    return {
        "rpm_limit": record_limits.rpm_limit,
        "tpm_limit": record_limits.tpm_limit,
        "max_parallel_requests": record_limits.max_parallel_requests,
        "model_rpm_limit": dict(record_limits.model_rpm_limit) or None,
        "model_tpm_limit": dict(record_limits.model_tpm_limit) or None,
    }


def _stamps(record: Any) -> Json:
    return {
        "created_at": when(record.created_at),
        "updated_at": when(record.updated_at),
        "created_by": getattr(record, "created_by", None),
        "updated_by": getattr(record, "updated_by", None),
    }


def _amounts(found: Mapping[str, Decimal]) -> Json:
    return {model: money_json(amount) for model, amount in found.items()}


def terms(found: BudgetTerms, *, shared: bool = False) -> Json:
    """Budget terms as LiteLLM's flat fields. `shared`: a Budget's, whose `budget_id` is its own and which
    shows no spend."""
    flat: Json = {
        "max_budget": number(found.max_budget),
        "soft_budget": number(found.soft_budget),
        "budget_duration": found.budget_duration,
        "budget_reset_at": when(found.budget_reset_at),
        "model_max_budget": _amounts(found.model_max_budget),
    }
    if not shared:
        flat |= {"budget_id": found.budget_id, "spend": money_json(found.spend)}
    return flat


# Keys ----------------------------------------------------------------------------------------------


def key(record: VirtualKey, *, token: bool = True) -> Json:
    """A key as LiteLLM's verification-token row; `token` (the hash) left out where LiteLLM leaves it out."""
    found: Json = {"token": record.token} if token else {}
    found.update(
        {
            "key_name": record.key_name,
            "key_alias": record.key_alias,
            **terms(record.budget),
            "expires": when(record.expires),
            "models": list(record.models),
            "aliases": {},
            "config": {},
            "user_id": record.user_id,
            "team_id": record.team_id,
            "organization_id": record.organization_id,
            "org_id": record.organization_id,
            **limits(record.limits),
            "allowed_cache_controls": list(record.allowed_cache_controls),
            "allowed_routes": list(record.allowed_routes),
            "permissions": {},
            "model_spend": {},
            "metadata": dict(record.metadata),
            "tags": list(record.tags),
            "blocked": record.blocked,
            "litellm_budget_table": None,
            **_stamps(record),
        }
    )
    return found


def issued(made: Issued) -> Json:
    """/key/generate and /key/regenerate: the key with its secret, shown this once."""
    return {**key(made.key), "key": made.secret, "token_id": made.key.token}


def key_info(ref: str, record: VirtualKey) -> Json:
    return {"key": ref, "info": key(record, token=False)}


def key_page(page: Page[VirtualKey], *, full: bool) -> Json:
    return {
        "keys": [key(k) for k in page.items] if full else [k.token for k in page.items],
        "total_count": page.total,
        "current_page": page.page,
        "total_pages": page.pages,
    }


# Teams ---------------------------------------------------------------------------------------------


def member(record: Member) -> Json:
    return {"user_id": record.user_id, "user_email": record.user_email, "role": record.role.value}


def team(record: Team) -> Json:
    return {
        "team_id": record.team_id,
        "team_alias": record.team_alias,
        "organization_id": record.organization_id,
        "admins": [m.user_id for m in record.members if m.role is MemberRole.ADMIN],
        "members": [m.user_id for m in record.members],
        "members_with_roles": [member(m) for m in record.members],
        "models": list(record.models),
        **terms(record.budget),
        **limits(record.limits),
        "blocked": record.blocked,
        "metadata": dict(record.metadata),
        "tags": list(record.tags),
        **_stamps(record),
    }


def team_info(view: TeamView) -> Json:
    return {
        "team_id": view.team.team_id,
        "team_info": team(view.team),
        "keys": [key(k) for k in view.keys],
        "team_memberships": [],
    }


def team_update(record: Team) -> Json:
    return {"team_id": record.team_id, "data": team(record)}


def team_members_added(joined: Joined) -> Json:
    assert isinstance(joined.record, Team)
    return {
        **team(joined.record),
        "updated_users": [user(u) for u in joined.users],
        "updated_team_memberships": [
            {
                "user_id": u.user_id,
                "team_id": joined.record.team_id,
                "budget_id": None,
                "spend": 0.0,
                "litellm_budget_table": None,
            }
            for u in joined.users
        ],
    }


# Users ---------------------------------------------------------------------------------------------


def user(record: User, teams: Iterable[Team] = ()) -> Json:
    return {
        "user_id": record.user_id,
        "user_email": record.user_email,
        "user_alias": record.user_alias,
        "user_role": record.user_role.value,
        "organization_id": record.organization_id,
        "teams": [t.team_id for t in teams],
        "models": list(record.models),
        **terms(record.budget),
        **limits(record.limits),
        "blocked": record.blocked,
        "metadata": dict(record.metadata),
        "model_spend": {},
        **_stamps(record),
    }


def new_user(made: NewUser) -> Json:
    """/user/new: LiteLLM answers with the key it made (`key` null when none) and the user's fields."""
    found: Json = (
        issued(made.issued) if made.issued is not None else {"key": None, "token": None, "expires": None}
    )
    found.update(user(made.user, made.teams))
    return found


def user_info(view: UserView) -> Json:
    return {
        "user_id": view.user_id,
        "user_info": user(view.user, view.teams) if view.user is not None else None,
        "keys": [key(k) for k in view.keys],
        "teams": [team(t) for t in view.teams],
    }


def user_page(page: Page[UserView]) -> Json:
    return {
        "users": [user(v.user, v.teams) for v in page.items if v.user is not None],
        "total": page.total,
        "page": page.page,
        "page_size": page.size,
        "total_pages": page.pages,
    }


# Organizations -------------------------------------------------------------------------------------


def _budget_table(record: Organization | EndUser) -> Json:
    """LiteLLM's `litellm_budget_table`, where it keeps an organization's or a customer's budget."""
    found = record.budget
    return {
        "budget_id": found.budget_id,
        "max_budget": number(found.max_budget),
        "soft_budget": number(found.soft_budget),
        "budget_duration": found.budget_duration,
        "budget_reset_at": when(found.budget_reset_at),
        "rpm_limit": record.limits.rpm_limit,
        "tpm_limit": record.limits.tpm_limit,
        "max_parallel_requests": record.limits.max_parallel_requests,
        "model_max_budget": _amounts(found.model_max_budget) or None,
    }


def organization_member(record: Organization, found: Member) -> Json:
    return {
        "user_id": found.user_id,
        "organization_id": record.organization_id,
        "user_role": "org_admin" if found.role is MemberRole.ADMIN else "internal_user",
        "user_email": found.user_email,
        "spend": 0.0,
        "budget_id": None,
        "created_at": when(record.created_at),
        "updated_at": when(record.updated_at),
    }


def organization(record: Organization, teams: Iterable[Team] = ()) -> Json:
    return {
        "organization_id": record.organization_id,
        "organization_alias": record.organization_alias,
        "models": list(record.models),
        **terms(record.budget),
        **limits(record.limits),
        "litellm_budget_table": _budget_table(record),
        "blocked": record.blocked,
        "metadata": dict(record.metadata),
        "tags": list(record.tags),
        "members": [organization_member(record, m) for m in record.members],
        "teams": [team(t) for t in teams],
        **_stamps(record),
    }


def organization_view(view: OrganizationView) -> Json:
    return organization(view.organization, view.teams)


def organization_members_added(joined: Joined) -> Json:
    record = joined.record
    assert isinstance(record, Organization)
    return {
        "organization_id": record.organization_id,
        "updated_users": [user(u) for u in joined.users],
        "updated_organization_memberships": [
            organization_member(record, m)
            for u in joined.users
            if (m := record.member(u.user_id)) is not None
        ],
    }


# Customers and budgets -----------------------------------------------------------------------------


def end_user(record: EndUser) -> Json:
    has_budget = record.budget.limited or record.budget.budget_duration is not None or record.limits.any
    return {
        "user_id": record.user_id,
        "alias": record.alias,
        "blocked": record.blocked,
        "allowed_model_region": record.allowed_model_region,
        "default_model": record.default_model,
        **terms(record.budget),
        **limits(record.limits),
        "litellm_budget_table": _budget_table(record) if has_budget else None,
        "metadata": dict(record.metadata),
        "created_at": when(record.created_at),
        "updated_at": when(record.updated_at),
    }


def invitation(record: Invitation) -> Json:
    """LiteLLM's LiteLLM_InvitationLink row."""
    return {
        "id": record.id,
        "user_id": record.user_id,
        "is_accepted": record.is_accepted,
        "accepted_at": when(record.accepted_at),
        "expires_at": when(record.expires_at),
        **_stamps(record),
    }


def budget(record: Budget) -> Json:
    return {
        "budget_id": record.budget_id,
        **terms(record.terms, shared=True),
        **limits(record.limits),
        **_stamps(record),
    }
