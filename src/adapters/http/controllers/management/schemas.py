"""The bodies of the management routes, by LiteLLM's field names. Fields LiteLLM defines that Switchyard
does not implement are accepted empty (as LiteLLM's clients send them) and refused with a value; fields
unknown to both are ignored, as LiteLLM does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from domain.errors import BadRequestError


class Body(BaseModel):
    # Extra fields are kept only to be checked against `unsupported`; the use cases never see them.
    # Built on first use: a start pays nothing for the management schemas.
    model_config = ConfigDict(extra="allow", defer_build=True)

    unsupported: ClassVar[frozenset[str]] = frozenset()
    """LiteLLM fields this route accepts only empty: Switchyard does not implement them."""

    def fields(self, *, drop: Iterable[str] = ()) -> dict[str, Any]:
        """The declared fields the caller set (None counts as not set, as in LiteLLM), for the use case."""
        extra = self.model_extra or {}
        for name in sorted(self.unsupported):
            if getattr(self, name, None) or extra.get(name):
                raise BadRequestError(f"{name} is not supported by Switchyard", param=name)
        declared = set(type(self).model_fields) - set(drop)
        return self.model_dump(exclude_none=True, include=declared)


_LITELLM_ONLY = frozenset(
    {
        "aliases",
        "config",
        "permissions",
        "allowed_cache_controls",
        "guardrails",
        "policies",
        "prompts",
        "object_permission",
        "enforced_params",
        "allowed_vector_store_indexes",
        "rpm_limit_type",
        "tpm_limit_type",
        "router_settings",
        "access_group_ids",
        "auto_rotate",
        "rotation_interval",
        "agent_id",
        "project_id",
        "spend",
        "temp_budget_increase",
        "temp_budget_expiry",
    }
)


class Limits(Body):
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    max_parallel_requests: int | None = None
    model_rpm_limit: dict[str, int] | None = None
    model_tpm_limit: dict[str, int] | None = None


class Terms(Limits):
    """The budget terms every budget-bearing body shares (`domain.budgets.BudgetTerms`)."""

    max_budget: float | None = None
    soft_budget: float | None = None
    budget_duration: str | None = None
    model_max_budget: dict[str, Any] | None = None

    @field_validator("max_budget", "soft_budget", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # LiteLLM's UI sends "" for an unset budget.
        return None if value == "" else value


class Spending(Terms):
    """The body of a key, team, user, organization or customer: its terms, and a shared budget."""

    budget_id: str | None = None
    metadata: dict[str, Any] | None = None


# Keys ----------------------------------------------------------------------------------------------


class KeyFields(Spending):
    unsupported = _LITELLM_ONLY - {"allowed_cache_controls", "guardrails"}
    models: list[str] | None = None
    key_alias: str | None = None
    duration: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    tags: list[str] | None = None
    allowed_routes: list[str] | None = None
    allowed_cache_controls: list[str] | None = None
    allowed_passthrough_routes: list[str] | None = None
    guardrails: list[str] | None = None
    blocked: bool | None = None


class GenerateKey(KeyFields):
    key: str | None = None
    key_type: Literal["default", "llm_api", "management", "read_only"] | None = None

    def fields(self, *, drop: Iterable[str] = ()) -> dict[str, Any]:
        found = super().fields(drop={"key_type", *drop})
        if self.key_type in ("management", "read_only"):
            raise BadRequestError(
                f"key_type {self.key_type} is not supported by Switchyard", param="key_type"
            )
        if self.key_type == "llm_api" and "allowed_routes" not in found:
            found["allowed_routes"] = ["llm_api_routes"]
        return found


class UpdateKey(KeyFields):
    key: str


class RegenerateKey(KeyFields):
    key: str | None = None
    new_key: str | None = None
    unsupported = KeyFields.unsupported | {"grace_period", "new_master_key"}


class KeyRef(Body):
    key: str


class DeleteKeys(Body):
    keys: list[str] | None = None
    key_aliases: list[str] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> DeleteKeys:
        if not self.keys and not self.key_aliases:
            raise ValueError("name the keys to delete in keys or key_aliases")
        return self


# Teams ---------------------------------------------------------------------------------------------


class Member(Body):
    role: Literal["admin", "user"] = "user"
    user_id: str | None = None
    user_email: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> Member:
        if self.user_id is None and self.user_email is None:
            raise ValueError("a member needs a user_id or a user_email")
        return self


class TeamFields(Spending):
    unsupported = (_LITELLM_ONLY - {"guardrails"}) | {
        "model_aliases",
        "team_member_permissions",
        "team_member_budget",
        "team_member_rpm_limit",
        "team_member_tpm_limit",
        "team_member_key_duration",
        "team_member_budget_duration",
        "secret_manager_settings",
    }
    team_alias: str | None = None
    organization_id: str | None = None
    models: list[str] | None = None
    allowed_passthrough_routes: list[str] | None = None
    guardrails: list[str] | None = None
    blocked: bool | None = None
    tags: list[str] | None = None


class NewTeam(TeamFields):
    team_id: str | None = None
    members_with_roles: list[Member] | None = None
    admins: list[Any] | None = None
    members: list[Any] | None = None

    def fields(self, *, drop: Iterable[str] = ()) -> dict[str, Any]:
        # LiteLLM's old `admins` / `members` lists are superseded by members_with_roles.
        return super().fields(drop={"admins", "members", *drop})


class UpdateTeam(TeamFields):
    team_id: str


class TeamIds(Body):
    team_ids: list[str]


class TeamRef(Body):
    team_id: str


class TeamMemberAdd(Body):
    unsupported = frozenset({"max_budget_in_team"})
    team_id: str
    member: Member | list[Member]

    def members(self) -> list[dict[str, Any]]:
        listed = self.member if isinstance(self.member, list) else [self.member]
        self.fields()
        return [m.model_dump(exclude_none=True) for m in listed]


class TeamMemberDelete(Body):
    team_id: str
    user_id: str | None = None
    user_email: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> TeamMemberDelete:
        if self.user_id is None and self.user_email is None:
            raise ValueError("name the member by user_id or user_email")
        return self


# Users ---------------------------------------------------------------------------------------------

UserRole = Literal["proxy_admin", "proxy_admin_viewer", "org_admin", "internal_user", "internal_user_viewer"]


class UserTeam(Body):
    team_id: str
    user_role: Literal["admin", "user"] = "user"
    unsupported = frozenset({"max_budget_in_team"})


class UserFields(Spending):
    unsupported = _LITELLM_ONLY | {"sso_user_id"}
    user_email: str | None = None
    password: str | None = None
    """The console password; kept only as its argon2id hash."""
    user_alias: str | None = None
    user_role: UserRole | None = None
    models: list[str] | None = None
    organization_id: str | None = None
    blocked: bool | None = None


class NewUser(UserFields):
    user_id: str | None = None
    teams: list[str | UserTeam] | None = None
    organizations: list[str] | None = None
    auto_create_key: bool = True
    duration: str | None = None
    key_alias: str | None = None
    team_id: str | None = None

    def fields(self, *, drop: Iterable[str] = ()) -> dict[str, Any]:
        for team in self.teams or ():
            if isinstance(team, UserTeam):
                team.fields()
        found = super().fields(drop={"organizations", *drop})
        if self.organizations:
            first = self.organizations[0]
            if len(self.organizations) > 1 or found.get("organization_id", first) != first:
                raise BadRequestError(
                    "A user belongs to one organization in Switchyard", param="organizations"
                )
            found["organization_id"] = first
        return found


class UpdateUser(UserFields):
    user_id: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> UpdateUser:
        if self.user_id is None and self.user_email is None:
            raise ValueError("name the user by user_id or user_email")
        return self


class UserIds(Body):
    user_ids: list[str]


# Organizations -------------------------------------------------------------------------------------


class OrganizationFields(Spending):
    unsupported = _LITELLM_ONLY
    organization_alias: str | None = None
    models: list[str] | None = None
    blocked: bool | None = None
    tags: list[str] | None = None


class NewOrganization(OrganizationFields):
    organization_id: str | None = None
    organization_alias: str  # type: ignore[assignment]


class UpdateOrganization(OrganizationFields):
    organization_id: str


class OrganizationIds(Body):
    organization_ids: list[str]


class OrganizationRef(Body):
    organization_id: str


class OrganizationMember(Body):
    role: Literal["org_admin", "internal_user", "internal_user_viewer"] = "internal_user"
    user_id: str | None = None
    user_email: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> OrganizationMember:
        if self.user_id is None and self.user_email is None:
            raise ValueError("a member needs a user_id or a user_email")
        return self


class OrganizationMemberAdd(Body):
    unsupported = frozenset({"max_budget_in_organization"})
    organization_id: str
    member: OrganizationMember | list[OrganizationMember]

    def members(self) -> list[dict[str, Any]]:
        self.fields()
        listed = self.member if isinstance(self.member, list) else [self.member]
        return [m.model_dump(exclude_none=True) for m in listed]


# Customers and budgets -----------------------------------------------------------------------------


class CustomerFields(Spending):
    unsupported = _LITELLM_ONLY | {"budget_reset_at"}
    alias: str | None = None
    blocked: bool | None = None
    allowed_model_region: Literal["eu", "us"] | None = None
    default_model: str | None = None


class Customer(CustomerFields):
    user_id: str


class CustomerIds(Body):
    user_ids: list[str]


class BudgetFields(Terms):
    budget_id: str | None = None
    budget_reset_at: str | None = None


class UpdateBudget(BudgetFields):
    budget_id: str  # type: ignore[assignment]


class BudgetRef(Body):
    id: str


class BudgetIds(Body):
    budgets: list[str]


# Invitations ---------------------------------------------------------------------------------------


class NewInvitation(Body):
    user_id: str


class InvitationRef(Body):
    invitation_id: str
