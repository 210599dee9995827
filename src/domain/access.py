"""Who is calling and what they may do: the authenticated principal and the pure access decisions."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Mapping
from dataclasses import field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.budgets import NO_BUDGET
from domain.caching import parse_controls
from domain.errors import AuthenticationError, PermissionDeniedError
from domain.frozen import frozen
from domain.guardrails import guardrails_of, requested, require_choosable
from domain.identity import (
    NO_LIMITS,
    READ_ONLY_ROLES,
    Budget,
    EndUser,
    Organization,
    RateLimits,
    Role,
    Team,
    User,
    VirtualKey,
)
from domain.passthrough import PROVIDER_ROUTES, SIGNED_PROVIDERS


class Via(StrEnum):
    MASTER_KEY = "master_key"
    VIRTUAL_KEY = "virtual_key"
    JWT = "jwt"
    CONSOLE = "console"
    """A console session of a user signed in with a password, an invitation or SSO."""


@frozen
class Principal:
    """The caller of one request, with every record its rights and limits come from."""

    via: Via
    role: Role
    key: VirtualKey | None = None
    user: User | None = None
    team: Team | None = None
    organization: Organization | None = None
    end_user: EndUser | None = None
    budgets: Mapping[str, Budget] = field(default_factory=dict)
    user_id: str | None = None
    """The user the caller acts as, known even when no user record exists (a JWT's subject)."""
    team_id: str | None = None
    organization_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.PROXY_ADMIN

    @property
    def reads_everything(self) -> bool:
        return self.role in (Role.PROXY_ADMIN, Role.PROXY_ADMIN_VIEWER)

    @property
    def read_only(self) -> bool:
        return self.role in READ_ONLY_ROLES

    @property
    def actor(self) -> str:
        """Who made a change, as the audit log records it."""
        if self.via is Via.MASTER_KEY:
            return "master_key"
        if self.user_id:
            return f"user:{self.user_id}"
        if self.key is not None:
            return f"key:{self.key.key_alias or self.key.key_name}"
        return self.via.value


MASTER = Principal(via=Via.MASTER_KEY, role=Role.PROXY_ADMIN)


def check_key_usable(key: VirtualKey, now: datetime) -> None:
    """401 for a key that may no longer be used at all."""
    if key.blocked:
        raise AuthenticationError(f"Key {key.key_name} is blocked.", code="key_blocked")
    if key.expired(now):
        raise AuthenticationError(
            f"Key {key.key_name} expired at {key.expires:%Y-%m-%dT%H:%M:%SZ}.", code="key_expired"
        )


def check_principal_usable(principal: Principal) -> None:
    """401 when the team, user or organization behind a key is blocked."""
    for kind, record in (
        ("Team", principal.team),
        ("User", principal.user),
        ("Organization", principal.organization),
    ):
        if record is not None and record.blocked:
            name = (
                getattr(record, "team_id", None) or getattr(record, "user_id", None) or record.organization_id
            )
            raise AuthenticationError(f"{kind} {name} is blocked.", code=f"{kind.lower()}_blocked")


ALL_MODELS = frozenset({"*", "all-proxy-models"})
TEAM_MODELS = "all-team-models"


def model_in(model: str, allowed: Iterable[str], access_groups: Mapping[str, frozenset[str]]) -> bool:
    """Whether `model` is named by `allowed`: a model name, a wildcard pattern (`openai/*`), an access
    group (`model_info.access_groups` of its deployments), or everything (`*`, `all-proxy-models`)."""
    for entry in allowed:
        if entry == model or entry in ALL_MODELS:
            return True
        if "*" in entry and fnmatch.fnmatchcase(model, entry):
            return True
        if model in access_groups.get(entry, ()):
            return True
    return False


def _refusing_layer(
    principal: Principal, model: str, access_groups: Mapping[str, frozenset[str]]
) -> tuple[str, tuple[str, ...]] | None:
    layers: list[tuple[str, tuple[str, ...]]] = []
    if principal.key is not None and principal.key.models and TEAM_MODELS not in principal.key.models:
        layers.append(("key", principal.key.models))
    if principal.team is not None and principal.team.models:
        layers.append(("team", principal.team.models))
    elif principal.user is not None and principal.user.models:
        layers.append(("user", principal.user.models))
    if principal.organization is not None and principal.organization.models:
        layers.append(("organization", principal.organization.models))
    for layer, allowed in layers:
        if not model_in(model, allowed, access_groups):
            return layer, allowed
    return None


def may_use_model(principal: Principal, model: str, access_groups: Mapping[str, frozenset[str]]) -> bool:
    return _refusing_layer(principal, model, access_groups) is None


def require_model(principal: Principal, model: str, access_groups: Mapping[str, frozenset[str]]) -> None:
    """403 naming the model unless every layer with a model list (key, team, a personal key's user,
    organization) allows it. An empty list allows all; `all-team-models` defers to the team."""
    refused = _refusing_layer(principal, model, access_groups)
    if refused is not None:
        layer, allowed = refused
        raise PermissionDeniedError(
            f"This {layer} may not use model '{model}'. Allowed: {', '.join(allowed)}.",
            code="model_not_allowed",
            param="model",
            model=model,
        )


OPENAI_ROUTES = (
    *(f"{v}{path}" for v in ("/v1", "") for path in (
        "/chat/completions", "/completions", "/embeddings", "/moderations", "/rerank", "/models",
        "/models/*", "/model/info", "/images/generations", "/audio/transcriptions", "/audio/translations",
        "/audio/speech", "/responses", "/responses/*",
    )),
    "/v2/rerank",
)  # fmt: skip
ANTHROPIC_ROUTES = ("/v1/messages", "/v1/messages/count_tokens")
PASSTHROUGH_ROUTES = tuple(f"/{provider}/*" for provider in (*PROVIDER_ROUTES, *SIGNED_PROVIDERS))
GUARDRAIL_ROUTES = ("/guardrails/apply_guardrail", "/guardrails/list")
ROUTE_GROUPS = {
    "openai_routes": OPENAI_ROUTES,
    "anthropic_routes": ANTHROPIC_ROUTES,
    "mapped_pass_through_routes": PASSTHROUGH_ROUTES,
    "apply_guardrail_routes": GUARDRAIL_ROUTES,
    "llm_api_routes": (*OPENAI_ROUTES, *ANTHROPIC_ROUTES, *PASSTHROUGH_ROUTES, *GUARDRAIL_ROUTES),
}
"""Names a key's `allowed_routes` may use for a family of routes (LiteLLM's names)."""
PASSTHROUGH_ROUTES_FIELD = "allowed_passthrough_routes"
"""Where a key's or a team's pass-through routes are kept: in its metadata, as LiteLLM keeps them."""


def route_in(path: str, allowed: Iterable[str]) -> bool:
    """Whether `path` is one of `allowed`: a path, a `prefix*`, or a group's name."""
    return any(
        _route_matches(path, member) for entry in allowed for member in ROUTE_GROUPS.get(entry, (entry,))
    )


def _route_matches(path: str, entry: str) -> bool:
    return path == entry or (entry.endswith("*") and path.startswith(entry[:-1]))


def require_route(principal: Principal, path: str) -> None:
    """403 when the key lists `allowed_routes` and this path is not among them."""
    key = principal.key
    if key is not None and key.allowed_routes and not route_in(path, key.allowed_routes):
        raise PermissionDeniedError(f"This key may not call {path}.", code="route_not_allowed")


def require_passthrough_route(principal: Principal, path: str) -> None:
    """403 when the key or its team lists `allowed_passthrough_routes` and the pass-through call's path
    (`/anthropic/v1/messages`, an operator's `/bria/v1/x`) is not at or below one of them."""
    for holder in (principal.key, principal.team):
        allowed = passthrough_routes_of(holder.metadata) if holder is not None else ()
        if allowed and not any(
            _route_matches(path, r) or path.startswith(r.rstrip("/") + "/") for r in allowed
        ):
            whose = "key" if holder is principal.key else "team"
            raise PermissionDeniedError(
                f"This {whose} may not call the pass-through route {path}.",
                code="passthrough_route_not_allowed",
            )


def passthrough_routes_of(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    routes = metadata.get(PASSTHROUGH_ROUTES_FIELD)
    return tuple(r for r in routes if isinstance(r, str) and r) if isinstance(routes, list | tuple) else ()


def attached_guardrails(principal: Principal) -> tuple[str, ...]:
    """The guardrails the caller's key and team attach to each of its calls."""
    found: list[str] = []
    for holder in (principal.key, principal.team):
        if holder is not None:
            found.extend(name for name in guardrails_of(holder.metadata) if name not in found)
    return tuple(found)


def choosable_guardrails(principal: Principal) -> tuple[str, ...] | None:
    """The guardrails a caller may name in a request: any (None) for the master key and admins, and for
    a key neither it nor its team limits; else those its key and team list."""
    if principal.is_admin or principal.via is Via.MASTER_KEY:
        return None
    return attached_guardrails(principal) or None


def require_guardrails_choosable(
    principal: Principal, controls: Mapping[str, Any], metadata: Mapping[str, Any]
) -> None:
    """403 naming a guardrail the request names that its caller may not choose."""
    asked = requested(controls, metadata)
    if asked:
        require_choosable(asked, choosable_guardrails(principal))


def require_cache_controls(allowed: Collection[str], controls: Mapping[str, Any]) -> None:
    """403 naming the first cache control a call uses (its body's `cache` object, its `Cache-Control`
    header) that is not among a key's `allowed_cache_controls`; 400 when a control is malformed."""
    used = parse_controls(controls.get("cache"), controls.get("cache_control_header")).names()
    for name in used:
        if name not in allowed:
            raise PermissionDeniedError(
                f"This key may not use the cache control '{name}'.",
                code="cache_control_not_allowed",
                param="cache",
            )


def effective_limits(principal: Principal, record: object) -> RateLimits:
    """A record's own limits, completed by those of the budget it points at."""
    limits: RateLimits = getattr(record, "limits", NO_LIMITS)
    budget_id = getattr(record, "budget", NO_BUDGET).budget_id
    budget = principal.budgets.get(budget_id) if budget_id else None
    return limits.or_else(budget.limits) if budget is not None else limits
