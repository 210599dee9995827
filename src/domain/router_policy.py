"""The router's settings (LiteLLM's `router_settings`, with its defaults) as one validated value."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from domain.errors import ConfigurationError
from domain.frozen import frozen


class RoutingStrategy(StrEnum):
    SIMPLE_SHUFFLE = "simple-shuffle"
    LEAST_BUSY = "least-busy"
    LATENCY_BASED = "latency-based-routing"
    USAGE_BASED = "usage-based-routing"
    USAGE_BASED_V2 = "usage-based-routing-v2"
    COST_BASED = "cost-based-routing"


POLICY_ERROR_KINDS = (
    "BadRequestError",
    "AuthenticationError",
    "TimeoutError",
    "RateLimitError",
    "ContentPolicyViolationError",
    "InternalServerError",
)
"""The error kinds LiteLLM's `retry_policy` (`<kind>Retries`) and `allowed_fails_policy`
(`<kind>AllowedFails`) may name."""

RETRY_POLICY_KEYS = frozenset(f"{kind}Retries" for kind in POLICY_ERROR_KINDS)
ALLOWED_FAILS_POLICY_KEYS = frozenset(f"{kind}AllowedFails" for kind in POLICY_ERROR_KINDS)


@frozen
class FallbackRule:
    """`{pattern: [model, ...]}`: when a model the pattern names fails, try these models in order.
    The pattern is a model name, or a glob such as `gpt-4*` or `*`."""

    pattern: str
    models: tuple[str, ...]


@frozen
class ModelAlias:
    """A public name that stands for a model group; `hidden` ones are served but not listed."""

    model: str
    hidden: bool = False


# The config path each field comes from, so that a bad value names what the operator wrote.
_PATHS = {
    "strategy": "router_settings.routing_strategy",
    "latency_buffer": "router_settings.routing_strategy_args.lowest_latency_buffer",
}


def _path(name: str) -> str:
    return _PATHS.get(name, f"router_settings.{name}")


@frozen
class RouterPolicy:
    """Every router setting the routing, retry, cooldown and fallback decisions read.

    Defaults are LiteLLM's effective ones: `num_retries` 2 (the OpenAI client's), `allowed_fails` 3,
    `cooldown_time` 5 s, `max_fallbacks` 5, tag filtering off and matching any tag when on.
    """

    strategy: RoutingStrategy = RoutingStrategy.SIMPLE_SHUFFLE
    num_retries: int = 2
    retry_policy: Mapping[str, int] = field(default_factory=dict)
    """`<kind>Retries` -> retries for that error kind, overriding `num_retries` (and `retryable`)."""
    allowed_fails: int = 3
    """Failures a deployment may have within a minute before it cools down."""
    allowed_fails_policy: Mapping[str, int] = field(default_factory=dict)
    """`<kind>AllowedFails` -> failures tolerated for that kind, overriding `allowed_fails` and the
    immediate cooldown of 429s, auth errors, timeouts and 5xx."""
    cooldown_time: float = 5.0
    disable_cooldowns: bool = False
    fallbacks: tuple[FallbackRule, ...] = ()
    context_window_fallbacks: tuple[FallbackRule, ...] = ()
    content_policy_fallbacks: tuple[FallbackRule, ...] = ()
    default_fallbacks: tuple[str, ...] = ()
    """Tried for a model no `fallbacks` rule names."""
    max_fallbacks: int = 5
    enable_pre_call_checks: bool = False
    """Skip deployments whose context window or capabilities cannot take the request."""
    latency_buffer: float = 0.0
    """latency-based-routing: deployments within this fraction of the fastest share its traffic."""
    model_group_alias: Mapping[str, ModelAlias] = field(default_factory=dict)
    retry_after: float = 0.0
    """The least time to wait before any retry, in seconds."""
    enable_tag_filtering: bool = False
    """Off by default, as in LiteLLM: request tags are mostly for spend tracking, not routing."""
    tag_filtering_match_any: bool = True
    """A tagged request may go to a deployment carrying any of its tags; False: all of them."""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "strategy", RoutingStrategy(self.strategy))
        except ValueError:
            names = ", ".join(s.value for s in RoutingStrategy)
            raise ConfigurationError(_path("strategy"), f"must be one of {names}") from None
        for name in ("num_retries", "allowed_fails", "max_fallbacks"):
            _check_count(_path(name), getattr(self, name))
        for name in ("cooldown_time", "latency_buffer", "retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
                raise ConfigurationError(_path(name), "must be a number of at least 0")
        _check_kind_counts(_path("retry_policy"), self.retry_policy, RETRY_POLICY_KEYS)
        _check_kind_counts(
            _path("allowed_fails_policy"), self.allowed_fails_policy, ALLOWED_FAILS_POLICY_KEYS
        )
        for name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
            for index, rule in enumerate(getattr(self, name)):
                where = f"{_path(name)}[{index}]"
                if not rule.pattern:
                    raise ConfigurationError(where, "names no model")
                _check_names(f"{where}.{rule.pattern}", rule.models)
        _check_names(_path("default_fallbacks"), self.default_fallbacks)
        for alias, target in self.model_group_alias.items():
            if not alias or not target.model:
                raise ConfigurationError(f"{_path('model_group_alias')}.{alias}", "needs a model name")
            if target.model == alias:
                raise ConfigurationError(f"{_path('model_group_alias')}.{alias}", "may not name itself")
        # Frozen values hold no shared mutable state: a caller's dict changed later changes nothing.
        object.__setattr__(self, "retry_policy", MappingProxyType(dict(self.retry_policy)))
        object.__setattr__(self, "allowed_fails_policy", MappingProxyType(dict(self.allowed_fails_policy)))
        object.__setattr__(self, "model_group_alias", MappingProxyType(dict(self.model_group_alias)))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RouterPolicy:
        """The policy of a LiteLLM `router_settings` mapping, its shapes as LiteLLM writes them; keys
        the decisions do not read are left to the caller. An absent or null key takes the default."""
        given = {name: value for name, value in settings.items() if value is not None}
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {name: given[name] for name in known & given.keys()}
        if "routing_strategy" in given:
            values["strategy"] = given["routing_strategy"]
        args = given.get("routing_strategy_args") or {}
        if not isinstance(args, Mapping):
            raise ConfigurationError("router_settings.routing_strategy_args", "must be a mapping")
        if args.get("lowest_latency_buffer") is not None:
            values["latency_buffer"] = args["lowest_latency_buffer"]
        for name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
            if name in values:
                values[name] = fallback_rules(values[name], _path(name))
        if "default_fallbacks" in values:
            values["default_fallbacks"] = _names(values["default_fallbacks"], _path("default_fallbacks"))
        if "model_group_alias" in values:
            values["model_group_alias"] = model_aliases(values["model_group_alias"])
        return cls(**values)

    def resolve_alias(self, model: str) -> str:
        """The model group a requested name stands for: one step through `model_group_alias`, as in
        LiteLLM, so an alias can never loop."""
        alias = self.model_group_alias.get(model)
        return alias.model if alias is not None else model

    def listed_aliases(self) -> dict[str, str]:
        """Aliases that `/v1/models` shows beside the model names, hidden ones left out."""
        return {name: alias.model for name, alias in self.model_group_alias.items() if not alias.hidden}


def fallback_rules(raw: Any, path: str) -> tuple[FallbackRule, ...]:
    """LiteLLM's `[{model: [a, b]}, {"*": [c]}]` as rules, in the order written."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ConfigurationError(path, "must be a list of {model: [fallback, ...]} mappings")
    rules = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ConfigurationError(f"{path}[{index}]", "must be a mapping {model: [fallback, ...]}")
        for pattern, models in item.items():
            where = f"{path}[{index}].{pattern}"
            if isinstance(models, str):
                models = [models]
            rules.append(FallbackRule(str(pattern), _names(models, where)))
    return tuple(rules)


def model_aliases(raw: Any) -> dict[str, ModelAlias]:
    """LiteLLM's `{alias: name}` or `{alias: {model: name, hidden: true}}`."""
    path = _path("model_group_alias")
    if not isinstance(raw, Mapping):
        raise ConfigurationError(path, "must be a mapping of alias to model name")
    aliases = {}
    for alias, target in raw.items():
        where = f"{path}.{alias}"
        if isinstance(target, str):
            aliases[str(alias)] = ModelAlias(target)
        elif isinstance(target, Mapping) and isinstance(target.get("model"), str):
            hidden = target.get("hidden", False)
            if not isinstance(hidden, bool):
                raise ConfigurationError(f"{where}.hidden", "must be true or false")
            aliases[str(alias)] = ModelAlias(target["model"], hidden)
        else:
            raise ConfigurationError(where, "must be a model name or {model: name, hidden: bool}")
    return aliases


def _names(raw: Any, path: str) -> tuple[str, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ConfigurationError(path, "must be a list of model names")
    _check_names(path, raw)
    return tuple(raw)


def _check_names(path: str, names: Sequence[Any]) -> None:
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"{path}[{index}]", "must be a model name")


def _check_count(path: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(path, "must be a whole number of at least 0")


def _check_kind_counts(path: str, counts: Mapping[str, Any], keys: frozenset[str]) -> None:
    for key, value in counts.items():
        if key not in keys:
            raise ConfigurationError(
                f"{path}.{key}", f"unknown key; expected one of {', '.join(sorted(keys))}"
            )
        _check_count(f"{path}.{key}", value)
