"""Pure fallback plans: which other models a failed request tries next, in order."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from fnmatch import fnmatchcase

from domain.errors import (
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    SwitchyardError,
    UnprocessableEntityError,
)
from domain.router_policy import FallbackRule, RouterPolicy

RequestFallbacks = Sequence[str | Mapping[str, Sequence[str]]]
"""A request's own `fallbacks`: model names (`["gpt-y"]`) or rules as in config (`[{"gpt-x": ["gpt-y"]}]`)."""


def fallback_models(
    model: str,
    error: SwitchyardError,
    policy: RouterPolicy,
    request_fallbacks: RequestFallbacks | None = None,
    *,
    tried: Collection[str] = (),
) -> list[str]:
    """The models to try, in order, after `model` failed with `error`; empty: answer with the error.

    A context window error takes the model's `context_window_fallbacks`, a content policy violation its
    `content_policy_fallbacks`; either without a rule for the model, and every other failure, takes
    its `fallbacks`, and a model no rule names takes `default_fallbacks`. A request's own `fallbacks`
    (even an empty list) replace all of these. Other bad requests have none: the same request is
    refused by any model for the same reason, and trying others only bills the caller for a
    substitute (LiteLLM stopped it too). The plan never holds `model` or the `tried` ones, nor one
    twice, and holds at most `max_fallbacks`. A caller that follows a fallback's own fallbacks passes
    every model tried so far as `tried`, and keeps the whole walk within `max_fallbacks`.
    """
    if _request_at_fault(error):
        return []
    if request_fallbacks is not None:
        plan = _requested_plan(request_fallbacks, model)
    else:
        plan = None
        if isinstance(error, ContextWindowExceededError):
            plan = matching_rule(policy.context_window_fallbacks, model)
        elif isinstance(error, ContentPolicyViolationError):
            plan = matching_rule(policy.content_policy_fallbacks, model)
        if plan is None:
            plan = matching_rule(policy.fallbacks, model)
        if plan is None:
            plan = policy.default_fallbacks
    skip = {model, *tried}
    unique = [name for name in dict.fromkeys(plan) if name not in skip]
    return unique[: policy.max_fallbacks]


def matching_rule(rules: Sequence[FallbackRule], model: str) -> tuple[str, ...] | None:
    """The models of the rule that names `model` most precisely: its exact name, then its name without
    a provider prefix (`openai/gpt-4o` matches a `gpt-4o` rule, as in LiteLLM), then the longest glob
    (`gpt-4*`), then `*`; the first written wins a tie. None: no rule names it."""
    bare = model.partition("/")[2]
    best: tuple[int, int] | None = None
    found: tuple[str, ...] | None = None
    for index, rule in enumerate(rules):
        if rule.pattern == model:
            rank = 0
        elif bare and rule.pattern == bare:
            rank = 1
        elif rule.pattern == "*":
            rank = 3
        elif fnmatchcase(model, rule.pattern):
            rank = 2
        else:
            continue
        key = (rank, -len(rule.pattern) if rank == 2 else index)
        if best is None or key < best:
            best, found = key, rule.models
    return found


def _request_at_fault(error: SwitchyardError) -> bool:
    if isinstance(error, ContextWindowExceededError | ContentPolicyViolationError):
        return False
    return isinstance(error, BadRequestError | UnprocessableEntityError)


def _requested_plan(requested: RequestFallbacks, model: str) -> list[str]:
    names = [item for item in requested if isinstance(item, str)]
    rules = [
        FallbackRule(str(pattern), tuple(name for name in models if isinstance(name, str)))
        for item in requested
        if isinstance(item, Mapping)
        for pattern, models in item.items()
        if isinstance(models, Sequence) and not isinstance(models, str)
    ]
    return names + list(matching_rule(rules, model) or ())
