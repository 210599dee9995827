"""The router's settings: LiteLLM's keys, shapes and defaults, refused with the offending path."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import ConfigurationError
from domain.router_policy import FallbackRule, ModelAlias, RouterPolicy, RoutingStrategy


def test_the_defaults_are_litellms() -> None:
    policy = RouterPolicy()

    assert (policy.strategy, policy.num_retries, policy.allowed_fails, policy.cooldown_time) == (
        RoutingStrategy.SIMPLE_SHUFFLE, 2, 3, 5.0,
    )  # fmt: skip
    assert (policy.max_fallbacks, policy.retry_after, policy.latency_buffer) == (5, 0.0, 0.0)
    assert not policy.enable_pre_call_checks and not policy.disable_cooldowns
    assert not policy.enable_tag_filtering and policy.tag_filtering_match_any


def test_strategies_carry_litellms_names() -> None:
    assert {s.value for s in RoutingStrategy} == {
        "simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing",
        "usage-based-routing-v2", "cost-based-routing",
    }  # fmt: skip


def test_a_router_settings_mapping_becomes_a_policy_with_litellms_shapes() -> None:
    policy = RouterPolicy.from_settings(
        {
            "routing_strategy": "latency-based-routing",
            "routing_strategy_args": {"lowest_latency_buffer": 0.2},
            "num_retries": None,
            "retry_policy": {"RateLimitErrorRetries": 4},
            "allowed_fails_policy": {"TimeoutErrorAllowedFails": 2},
            "fallbacks": [{"gpt-x": ["gpt-y", "gpt-z"]}, {"*": ["cheap"]}],
            "context_window_fallbacks": [{"gpt-x": ["gpt-x-long"]}],
            "default_fallbacks": ["cheap"],
            "model_group_alias": {"gpt-4": "gpt-x", "old": {"model": "gpt-y", "hidden": True}},
            "redis_host": "ignored here",
        }
    )

    assert policy.strategy is RoutingStrategy.LATENCY_BASED and policy.latency_buffer == 0.2
    assert policy.num_retries == 2
    assert policy.retry_policy == {"RateLimitErrorRetries": 4}
    assert policy.fallbacks == (FallbackRule("gpt-x", ("gpt-y", "gpt-z")), FallbackRule("*", ("cheap",)))
    assert policy.context_window_fallbacks == (FallbackRule("gpt-x", ("gpt-x-long",)),)
    assert policy.default_fallbacks == ("cheap",)
    assert policy.model_group_alias == {"gpt-4": ModelAlias("gpt-x"), "old": ModelAlias("gpt-y", hidden=True)}


def test_an_alias_resolves_to_its_model_group_in_one_step_and_other_names_stay() -> None:
    policy = RouterPolicy.from_settings({"model_group_alias": {"a": "b", "b": {"model": "c"}}})

    assert policy.resolve_alias("a") == "b"
    assert policy.resolve_alias("b") == "c"
    assert policy.resolve_alias("gpt-x") == "gpt-x"


def test_hidden_aliases_are_served_but_not_listed() -> None:
    policy = RouterPolicy.from_settings(
        {"model_group_alias": {"shown": "m", "secret": {"model": "m", "hidden": True}}}
    )

    assert policy.resolve_alias("secret") == "m"
    assert policy.listed_aliases() == {"shown": "m"}


@pytest.mark.parametrize(
    ("settings", "path"),
    [
        ({"routing_strategy": "round-robin"}, "router_settings.routing_strategy"),
        ({"num_retries": -1}, "router_settings.num_retries"),
        ({"allowed_fails": 1.5}, "router_settings.allowed_fails"),
        ({"cooldown_time": -5}, "router_settings.cooldown_time"),
        ({"max_fallbacks": True}, "router_settings.max_fallbacks"),
        ({"retry_after": float("inf")}, "router_settings.retry_after"),
        (
            {"routing_strategy_args": {"lowest_latency_buffer": -0.1}},
            "router_settings.routing_strategy_args.lowest_latency_buffer",
        ),
        ({"retry_policy": {"RateLimitRetries": 2}}, "router_settings.retry_policy.RateLimitRetries"),
        ({"retry_policy": {"TimeoutErrorRetries": -1}}, "router_settings.retry_policy.TimeoutErrorRetries"),
        (
            {"allowed_fails_policy": {"RateLimitErrorRetries": 1}},
            "router_settings.allowed_fails_policy.RateLimitErrorRetries",
        ),
        ({"fallbacks": {"gpt-x": ["gpt-y"]}}, "router_settings.fallbacks"),
        ({"fallbacks": [{"gpt-x": [""]}]}, "router_settings.fallbacks[0].gpt-x[0]"),
        ({"context_window_fallbacks": ["gpt-y"]}, "router_settings.context_window_fallbacks[0]"),
        ({"default_fallbacks": "gpt-y"}, "router_settings.default_fallbacks"),
        ({"model_group_alias": {"a": 3}}, "router_settings.model_group_alias.a"),
        ({"model_group_alias": {"a": "a"}}, "router_settings.model_group_alias.a"),
        (
            {"model_group_alias": {"a": {"model": "b", "hidden": "yes"}}},
            "router_settings.model_group_alias.a.hidden",
        ),
    ],
)
def test_an_invalid_setting_is_refused_naming_its_config_path(settings: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        RouterPolicy.from_settings(settings)

    assert raised.value.path == path


def test_a_policy_keeps_its_values_when_the_mappings_it_was_built_from_change() -> None:
    given = {"RateLimitErrorRetries": 1}
    policy = RouterPolicy(retry_policy=given)

    given["RateLimitErrorRetries"] = 9

    assert policy.retry_policy == {"RateLimitErrorRetries": 1}
