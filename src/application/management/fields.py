"""Management request fields (JSON values by LiteLLM's names) turned into domain values, each refusal a 400
naming the field."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from domain.access import PASSTHROUGH_ROUTES_FIELD
from domain.budgets import BudgetTerms
from domain.errors import BadRequestError
from domain.guardrails import GUARDRAILS_FIELD
from domain.identity import SECRET, Budget, Role, parse_duration

Fields = Mapping[str, Any]
"""The fields a caller sent, by LiteLLM's names; a field that is present with None clears the value."""

Convert = Callable[[Any, str], Any]
R = TypeVar("R")


def text(value: Any, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError(f"{param} must be a string", param=param)
    return value


def required_text(value: Any, param: str) -> str:
    found = text(value, param)
    if not found:
        raise BadRequestError(f"{param} is required", param=param)
    return found


def names(value: Any, param: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise BadRequestError(f"{param} must be a list of strings", param=param)
    return tuple(dict.fromkeys(value))


def flag(value: Any, param: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequestError(f"{param} must be true or false", param=param)
    return value


def money(value: Any, param: str) -> Decimal | None:
    """A non-negative amount of US dollars; floats are read through their shortest text (0.1 is 0.1)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise BadRequestError(f"{param} must be a number", param=param)
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequestError(f"{param} must be a finite number", param=param)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise BadRequestError(f"{param} must be a number, got {value!r}", param=param) from exc
    if not amount.is_finite() or amount < 0:
        raise BadRequestError(f"{param} must be zero or more, got {value}", param=param)
    return amount


def count(value: Any, param: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequestError(f"{param} must be a whole number", param=param)
    if value < 0:
        raise BadRequestError(f"{param} must be zero or more, got {value}", param=param)
    return value


def counts(value: Any, param: str) -> dict[str, int]:
    """A map of model name to a per-minute limit."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{param} must be an object of model name to number", param=param)
    return {
        str(model): _required(count(limit, f"{param}.{model}"), f"{param}.{model}")
        for model, limit in value.items()
    }


def amounts(value: Any, param: str) -> dict[str, Decimal]:
    """A map of model name to a budget: a number, or LiteLLM's `{"max_budget": n, ...}`."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{param} must be an object of model name to budget", param=param)
    found = {}
    for model, budget in value.items():
        where = f"{param}.{model}"
        if isinstance(budget, Mapping):
            budget = budget.get("max_budget")
        found[str(model)] = _required(money(budget, where), where)
    return found


def mapping(value: Any, param: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequestError(f"{param} must be an object", param=param)
    return dict(value)


def duration(value: Any, param: str) -> str | None:
    """A duration as given (`30s` ... `1mo`), once it is known to parse."""
    if value is None:
        return None
    parse_duration(value, param=param)
    return value


def role(value: Any, param: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise BadRequestError(f"{param} must be one of {allowed}; got {value!r}", param=param) from None


def _required(value: R | None, param: str) -> R:
    if value is None:
        raise BadRequestError(f"{param} must not be null", param=param)
    return value


LIMIT_FIELDS: dict[str, Convert] = {
    "rpm_limit": count,
    "tpm_limit": count,
    "max_parallel_requests": count,
    "model_rpm_limit": counts,
    "model_tpm_limit": counts,
}


TERM_FIELDS: dict[str, Convert] = {
    "max_budget": money,
    "soft_budget": money,
    "budget_duration": duration,
    "budget_id": text,
    "model_max_budget": amounts,
}
"""The budget terms a key, team, user, organization or customer request may set."""

_TERMS = frozenset(f.name for f in dataclasses.fields(BudgetTerms))


def terms_field(record: Any) -> str:
    """Where a record keeps its `BudgetTerms`: a shared Budget's `terms`, any other record's `budget`."""
    return "terms" if isinstance(record, Budget) else "budget"


def assign(
    record: R, fields: Fields, spec: Mapping[str, Convert], *, ignore: frozenset[str] = frozenset()
) -> R:
    """`record` with every field of `spec` that `fields` holds converted and set, the budget fields
    gathered into its budget terms and the rate-limit fields into its `limits`. A field neither in
    `spec`, a limit nor `ignore` is a 400."""
    for name in fields:
        if name not in spec and name not in LIMIT_FIELDS and name not in ignore:
            raise BadRequestError(f"Unknown field {name!r}", param=name)
    changes = {name: convert(fields[name], name) for name, convert in spec.items() if name in fields}
    terms = {name: changes.pop(name) for name in list(changes) if name in _TERMS}
    if terms:
        part = terms_field(record)
        changes[part] = dataclasses.replace(getattr(record, part), **terms)
    limits = {name: convert(fields[name], name) for name, convert in LIMIT_FIELDS.items() if name in fields}
    if limits:
        changes["limits"] = dataclasses.replace(getattr(record, "limits"), **limits)  # noqa: B009
    return dataclasses.replace(record, **changes) if changes else record  # type: ignore[type-var]


def jsonable(value: Any) -> Any:
    """A record as plain JSON values (for the audit log): Decimals as numbers, times as ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get(SECRET)  # a password hash never reaches the audit log
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def routes_in_metadata(fields: Fields, metadata: Mapping[str, Any]) -> Fields:
    """`fields` with a top-level `allowed_passthrough_routes` or `guardrails` moved into the record's
    metadata, where LiteLLM keeps them (and where a caller may also put them); an empty list lifts the
    restriction."""
    wanted = fields
    for name in (PASSTHROUGH_ROUTES_FIELD, GUARDRAILS_FIELD):
        if name in wanted:
            wanted = _into_metadata(wanted, name, metadata)
    return wanted


def _into_metadata(fields: Fields, name: str, metadata: Mapping[str, Any]) -> Fields:
    wanted = dict(fields)
    listed = names(wanted.pop(name), name)
    if name == PASSTHROUGH_ROUTES_FIELD and any(not route.startswith("/") for route in listed):
        raise BadRequestError(f"{name}: each route is a path starting with '/'", param=name)
    kept = dict(mapping(wanted["metadata"], "metadata") if "metadata" in wanted else metadata)
    kept.pop(name, None)
    wanted["metadata"] = {**kept, name: list(listed)} if listed else kept
    return wanted
