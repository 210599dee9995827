"""Who may manage what through the management API: pure rules over the caller's reach and the records.

- proxy_admin does anything; proxy_admin_viewer reads everything and changes nothing.
- org_admin manages the teams, users and keys of the organizations it administers.
- A team admin manages the members and keys of its team.
- internal_user manages its own keys and reads its own user and teams; internal_user_viewer only reads.
- Nobody grants more than it holds: models it may not use itself, limits or a budget above its own, or a
  role above its own.
Every refusal is a 403 naming what was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from application.management.fields import amounts, count, counts, money, role
from domain.access import TEAM_MODELS, Principal, require_model
from domain.errors import PermissionDeniedError
from domain.frozen import frozen
from domain.identity import MemberRole, Organization, Role, Team, User, VirtualKey


def refuse(message: str, *, param: str | None = None) -> NoReturn:
    raise PermissionDeniedError(message, param=param)


@frozen
class Reach:
    """The caller with the teams and organizations it belongs to, loaded once per management call."""

    principal: Principal
    teams: tuple[Team, ...] = ()
    organizations: tuple[Organization, ...] = ()

    @property
    def user_id(self) -> str | None:
        return self.principal.user_id

    def team_ids(self) -> frozenset[str]:
        """The teams the caller belongs to (a team key's holder belongs to that team)."""
        found = {t.team_id for t in self.teams if self.user_id and t.member(self.user_id)}
        return frozenset(found | ({self.principal.team_id} if self.principal.team_id else set()))

    def admin_team_ids(self) -> frozenset[str]:
        uid = self.user_id
        return frozenset(t.team_id for t in self.teams if uid and t.is_admin(uid))

    def organization_ids(self) -> frozenset[str]:
        """The organizations the caller belongs to."""
        uid = self.user_id
        found = {o.organization_id for o in self.organizations if uid and o.member(uid)}
        own = (
            self.principal.organization_id,
            self.principal.user.organization_id if self.principal.user else None,
        )
        return frozenset(found | {o for o in own if o})

    def admin_organization_ids(self) -> frozenset[str]:
        """The organizations the caller administers: an admin membership, or, for an org_admin, its own."""
        uid = self.user_id
        found = {
            o.organization_id
            for o in self.organizations
            if uid and (m := o.member(uid)) is not None and m.role is MemberRole.ADMIN
        }
        if self.principal.role is Role.ORG_ADMIN:
            user = self.principal.user
            own = (self.principal.organization_id, user.organization_id if user else None)
            found |= {o for o in own if o}
        return frozenset(found)

    def administers_organization(self, organization_id: str | None) -> bool:
        return organization_id is not None and organization_id in self.admin_organization_ids()

    def administers_user(self, user: User) -> bool:
        """Whether the user belongs to an organization the caller administers."""
        orgs = self.admin_organization_ids()
        if user.organization_id in orgs:
            return True
        return any(o.organization_id in orgs and o.member(user.user_id) for o in self.organizations)

    def administers_team(self, team: Team) -> bool:
        """A team admin or an org_admin of the team's organization."""
        return team.team_id in self.admin_team_ids() or self.administers_organization(team.organization_id)


def require_writer(principal: Principal, what: str) -> None:
    if principal.read_only:
        refuse(f"The {principal.role.value} role may read {what} but not change them.")


def require_admin(principal: Principal, action: str) -> None:
    if not principal.is_admin:
        refuse(f"Only a proxy_admin may {action}; you are {principal.role.value}.")


def require_reads_everything(principal: Principal, action: str) -> None:
    if not principal.reads_everything:
        refuse(f"Only a proxy_admin or proxy_admin_viewer may {action}; you are {principal.role.value}.")


# Keys ----------------------------------------------------------------------------------------------


def _reaches_key(reach: Reach, key: VirtualKey, team: Team | None, owner: User | None) -> bool:
    if reach.user_id is not None and key.user_id == reach.user_id:
        return True
    if team is not None and reach.administers_team(team):
        return True
    return reach.administers_organization(key.organization_id) or (
        owner is not None and reach.administers_user(owner)
    )


def may_read_key(reach: Reach, key: VirtualKey, team: Team | None, owner: User | None) -> bool:
    own = reach.principal.key
    return (
        reach.principal.reads_everything
        or (own is not None and own.token == key.token)
        or _reaches_key(reach, key, team, owner)
    )


def check_manage_key(
    reach: Reach, key: VirtualKey, team: Team | None, owner: User | None, action: str
) -> None:
    require_writer(reach.principal, "keys")
    if reach.principal.is_admin or _reaches_key(reach, key, team, owner):
        return
    refuse(
        f"You may not {action} key {key.key_alias or key.key_name}: it is neither yours nor in a team or "
        "organization you administer."
    )


def check_key_placement(
    reach: Reach, *, user_id: str | None, team: Team | None, owner: User | None, organization_id: str | None
) -> None:
    """Whether this caller may issue a key to (or move a key to) this user, team and organization."""
    principal = reach.principal
    require_writer(principal, "keys")
    if principal.is_admin:
        return
    manages_team = team is not None and reach.administers_team(team)
    if team is not None and not manages_team and team.team_id not in reach.team_ids():
        refuse(
            f"You may not create keys for team {team.team_id}: you are not a member of it.", param="team_id"
        )
    if user_id is not None and user_id != reach.user_id:
        for_member = manages_team and team is not None and team.member(user_id) is not None
        if not (for_member or (owner is not None and reach.administers_user(owner))):
            refuse(f"You may create keys only for yourself, not for user {user_id}.", param="user_id")
    if user_id is None and not manages_team and not reach.administers_organization(organization_id):
        refuse("A key you create must belong to you, or to a team or organization you administer.")
    if organization_id is not None:
        allowed = reach.admin_organization_ids() | reach.organization_ids()
        if organization_id not in allowed and (team is None or team.organization_id != organization_id):
            refuse(f"You may not create keys in organization {organization_id}.", param="organization_id")


# Teams, users, organizations --------------------------------------------------------------------------


def may_read_team(reach: Reach, team: Team) -> bool:
    return (
        reach.principal.reads_everything
        or team.team_id in reach.team_ids()
        or reach.administers_organization(team.organization_id)
    )


def check_create_team(reach: Reach, organization_id: str | None) -> None:
    require_writer(reach.principal, "teams")
    if reach.principal.is_admin or reach.administers_organization(organization_id):
        return
    refuse(
        "Only a proxy_admin, or an org_admin in its own organization (organization_id), may create teams.",
        param="organization_id",
    )


def check_manage_team(reach: Reach, team: Team, action: str) -> None:
    require_writer(reach.principal, "teams")
    if reach.principal.is_admin or reach.administers_organization(team.organization_id):
        return
    refuse(
        f"You may not {action} team {team.team_id}: "
        "only a proxy_admin or an org_admin of its organization may."
    )


def check_manage_members(reach: Reach, team: Team) -> None:
    require_writer(reach.principal, "teams")
    if reach.principal.is_admin or reach.administers_team(team):
        return
    refuse(f"You may not change the members of team {team.team_id}: you are not an admin of it.")


def may_read_user(reach: Reach, user: User) -> bool:
    if reach.principal.reads_everything or user.user_id == reach.user_id or reach.administers_user(user):
        return True
    admin_teams = reach.admin_team_ids()
    return any(t.team_id in admin_teams and t.member(user.user_id) for t in reach.teams)


def check_create_user(reach: Reach, organization_id: str | None) -> None:
    require_writer(reach.principal, "users")
    if reach.principal.is_admin or reach.administers_organization(organization_id):
        return
    refuse(
        "Only a proxy_admin, or an org_admin in its own organization (organization_id), may create users.",
        param="organization_id",
    )


def check_manage_user(reach: Reach, user: User, action: str) -> None:
    require_writer(reach.principal, "users")
    if reach.principal.is_admin or reach.administers_user(user):
        return
    refuse(
        f"You may not {action} user {user.user_id}: "
        "only a proxy_admin or an org_admin of its organization may."
    )


def may_read_organization(reach: Reach, organization: Organization) -> bool:
    return reach.principal.reads_everything or organization.organization_id in (
        reach.organization_ids() | reach.admin_organization_ids()
    )


def check_manage_organization_members(reach: Reach, organization: Organization) -> None:
    require_writer(reach.principal, "organizations")
    if reach.principal.is_admin or reach.administers_organization(organization.organization_id):
        return
    refuse(f"You may not change the members of organization {organization.organization_id}.")


# Grants ---------------------------------------------------------------------------------------------

_LIMITS = ("rpm_limit", "tpm_limit", "max_parallel_requests")
_MODEL_LIMITS = ("model_rpm_limit", "model_tpm_limit")


def own_ceiling(principal: Principal) -> dict[str, Any]:
    """The caller's own limits and budget: the tightest its key and its user set."""
    layers = [r for r in (principal.key, principal.user) if r is not None]
    ceiling: dict[str, Any] = {}
    for name in _LIMITS:
        values = [v for r in layers if (v := getattr(r.limits, name)) is not None]
        if values:
            ceiling[name] = min(values)
    budgets = [r.budget.max_budget for r in layers if r.budget.max_budget is not None]
    if budgets:
        ceiling["max_budget"] = min(budgets)
    for name in _MODEL_LIMITS:
        merged: dict[str, int] = {}
        for record in layers:
            for model, limit in getattr(record.limits, name).items():
                merged[model] = min(limit, merged.get(model, limit))
        if merged:
            ceiling[name] = merged
    return ceiling


def bound_grant(principal: Principal, fields: Mapping[str, Any], *, inherit: bool) -> dict[str, Any]:
    """`fields` (of a key or user the caller creates or changes) within the caller's own rights: only
    models it may use itself, limits and a budget no higher than its own, a role no higher than its own.
    With `inherit`, what `fields` leaves unlimited takes the caller's own limit (a new key of a limited
    caller is limited as much). Admins are not bounded."""
    if principal.is_admin:
        return dict(fields)
    bounded = dict(fields)
    if "models" in fields or inherit:
        models = _grantable_models(principal, list(fields.get("models") or ()))
        if models or "models" in fields:
            bounded["models"] = models
    ceiling = own_ceiling(principal)
    for name in (*_LIMITS, "max_budget"):
        if name not in ceiling or (name not in fields and not inherit):
            continue
        wanted = (money if name == "max_budget" else count)(fields.get(name), name)
        if wanted is None:
            bounded[name] = ceiling[name]
        elif wanted > ceiling[name]:
            refuse(f"You cannot grant {name}={wanted}: your own {name} is {ceiling[name]}.", param=name)
    for name in _MODEL_LIMITS:
        if name in ceiling and (name in fields or inherit):
            bounded[name] = _bounded_map(name, counts(fields.get(name), name), ceiling[name])
    if "user_role" in fields and fields["user_role"] is not None:
        wanted_role = role(fields["user_role"], "user_role")
        if wanted_role.rank > principal.role.rank:
            refuse(
                f"You cannot grant the role {wanted_role.value}: yours is {principal.role.value}.",
                param="user_role",
            )
    if "model_max_budget" in fields and "max_budget" in ceiling:
        for model, amount in amounts(fields["model_max_budget"], "model_max_budget").items():
            if amount > ceiling["max_budget"]:
                refuse(
                    f"You cannot grant model_max_budget.{model}={amount}: your own max_budget is "
                    f"{ceiling['max_budget']}.",
                    param="model_max_budget",
                )
    return bounded


def _grantable_models(principal: Principal, requested: list[str]) -> list[str]:
    for model in requested:
        if model == TEAM_MODELS:
            continue
        try:
            require_model(principal, model, {})
        except PermissionDeniedError as exc:
            raise PermissionDeniedError(
                f"You cannot grant model '{model}': {exc.message}", param="models", code="model_not_allowed"
            ) from exc
    own = principal.key.models if principal.key is not None else ()
    if not requested and own and TEAM_MODELS not in own:
        return list(own)
    return requested


def _bounded_map(name: str, wanted: dict[str, int], ceiling: Mapping[str, int]) -> dict[str, int]:
    bounded = dict(wanted)
    for model, limit in ceiling.items():
        if model not in bounded:
            bounded[model] = limit
        elif bounded[model] > limit:
            refuse(f"You cannot grant {name}.{model}={bounded[model]}: your own is {limit}.", param=name)
    return bounded
