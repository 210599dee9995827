"""Which budgets one call must fit: its key's, user's, team's, organization's and end user's, each with its
per-model budget where one is set (a pure function of the caller's records)."""

from __future__ import annotations

from domain.access import Principal
from domain.budgets import NO_BUDGET, BudgetLine, BudgetTerms, window_at
from domain.spend import subject


def terms_of(principal: Principal, record: object) -> BudgetTerms:
    """A record's own budget terms, completed by those of the shared budget it points at (`budget_id`)."""
    terms: BudgetTerms = getattr(record, "budget", NO_BUDGET)
    shared = principal.budgets.get(terms.budget_id) if terms.budget_id else None
    return terms.or_else(shared.terms) if shared is not None else terms


def budget_lines(principal: Principal, model: str, now: float) -> tuple[BudgetLine, ...]:
    """The budgets a call by `principal` to `model` (a public name) is charged to, each where it sets a
    limit: the key's, user's, team's, organization's and end user's whole budgets and per-model ones."""
    lines: list[BudgetLine] = []
    for kind, id, label, record in _records(principal):
        terms = terms_of(principal, record)
        if not terms.limited:
            continue
        created = getattr(record, "created_at", None)
        window = window_at(terms.budget_duration, created.timestamp() if created else None, now)
        if terms.max_budget is not None or terms.soft_budget is not None:
            lines.append(BudgetLine(subject(kind, id), label, terms.max_budget, window, terms.soft_budget))
        per_model = terms.model_max_budget.get(model)
        if per_model is not None:
            label = f"{label} for model {model}"
            lines.append(BudgetLine(subject(kind, id, model), label, per_model, window))
    return tuple(lines)


def _records(principal: Principal) -> list[tuple[str, str, str, object]]:
    found: list[tuple[str, str, str, object]] = []
    if principal.key is not None:
        key = principal.key
        found.append(("key", key.token, f"key {key.key_alias or key.key_name}", key))
    if principal.user is not None:
        found.append(("user", principal.user.user_id, f"user {principal.user.user_id}", principal.user))
    if principal.team is not None:
        found.append(("team", principal.team.team_id, f"team {principal.team.team_id}", principal.team))
    if principal.organization is not None:
        org = principal.organization
        found.append(("organization", org.organization_id, f"organization {org.organization_id}", org))
    if principal.end_user is not None:
        end_user = principal.end_user
        found.append(("end_user", end_user.user_id, f"end user {end_user.user_id}", end_user))
    return found
