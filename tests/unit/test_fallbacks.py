"""Which other models a failed request tries, by kind of failure, in order."""

from __future__ import annotations

import pytest

from domain.errors import (
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    RateLimitError,
    SwitchyardError,
    UnprocessableEntityError,
    UnsupportedParameterError,
)
from domain.fallbacks import fallback_models
from domain.router_policy import RouterPolicy

POLICY = RouterPolicy.from_settings(
    {
        "fallbacks": [{"gpt-x": ["gpt-y", "gpt-z"]}, {"claude-*": ["claude-backup"]}, {"*": ["anything"]}],
        "context_window_fallbacks": [{"gpt-x": ["gpt-x-long"]}],
        "content_policy_fallbacks": [{"gpt-x": ["lenient"]}],
        "default_fallbacks": ["cheap"],
    }
)
BOOM = InternalServerError("boom")


@pytest.mark.parametrize("error", [BOOM, RateLimitError("slow")], ids=lambda e: type(e).__name__)
def test_a_failed_model_falls_back_to_its_fallbacks_in_order(error: SwitchyardError) -> None:
    assert fallback_models("gpt-x", error, POLICY) == ["gpt-y", "gpt-z"]


def test_a_context_window_error_falls_back_to_the_models_context_window_fallbacks() -> None:
    assert fallback_models("gpt-x", ContextWindowExceededError("long"), POLICY) == ["gpt-x-long"]


def test_a_content_policy_violation_falls_back_to_the_models_content_policy_fallbacks() -> None:
    assert fallback_models("gpt-x", ContentPolicyViolationError("no"), POLICY) == ["lenient"]


def test_a_kind_without_a_rule_for_the_model_takes_its_general_fallbacks() -> None:
    policy = RouterPolicy.from_settings(
        {"fallbacks": [{"m": ["n"]}], "context_window_fallbacks": [{"x": ["y"]}]}
    )

    assert fallback_models("m", ContextWindowExceededError("long"), policy) == ["n"]


def test_a_model_no_rule_names_takes_the_default_fallbacks() -> None:
    policy = RouterPolicy.from_settings(
        {"fallbacks": [{"m": ["n"]}], "default_fallbacks": ["cheap", "cheaper"]}
    )

    assert fallback_models("other", BOOM, policy) == ["cheap", "cheaper"]


def test_an_exact_rule_beats_a_glob_and_a_glob_beats_the_catch_all() -> None:
    assert fallback_models("claude-3", BOOM, POLICY) == ["claude-backup"]
    assert fallback_models("mistral", BOOM, POLICY) == ["anything"]


def test_the_longest_glob_names_a_model_most_precisely() -> None:
    policy = RouterPolicy.from_settings({"fallbacks": [{"gpt-*": ["a"]}, {"gpt-4o*": ["b"]}]})

    assert fallback_models("gpt-4o-mini", BOOM, policy) == ["b"]


def test_a_model_with_a_provider_prefix_takes_the_rule_for_its_bare_name() -> None:
    policy = RouterPolicy.from_settings({"fallbacks": [{"gpt-4o": ["b"]}, {"*": ["c"]}]})

    assert fallback_models("openai/gpt-4o", BOOM, policy) == ["b"]


def test_a_requests_own_fallbacks_replace_the_configured_ones() -> None:
    assert fallback_models("gpt-x", BOOM, POLICY, ["mine"]) == ["mine"]
    assert fallback_models("gpt-x", BOOM, POLICY, [{"gpt-x": ["ruled"]}, {"other": ["no"]}]) == ["ruled"]
    assert fallback_models("gpt-x", BOOM, POLICY, []) == []


@pytest.mark.parametrize(
    "error",
    [BadRequestError("bad"), UnprocessableEntityError("odd"), UnsupportedParameterError("no")],
    ids=lambda e: type(e).__name__,
)
def test_a_request_any_model_would_refuse_falls_back_nowhere(error: SwitchyardError) -> None:
    assert fallback_models("gpt-x", error, POLICY) == []
    assert fallback_models("gpt-x", error, POLICY, ["mine"]) == []


def test_a_plan_never_holds_the_failed_model_a_tried_one_or_one_twice() -> None:
    policy = RouterPolicy.from_settings({"fallbacks": [{"m": ["m", "a", "b", "a", "c"]}]})

    assert fallback_models("m", BOOM, policy, tried=["b"]) == ["a", "c"]


def test_a_plan_holds_at_most_max_fallbacks() -> None:
    policy = RouterPolicy.from_settings({"fallbacks": [{"m": ["a", "b", "c", "d"]}], "max_fallbacks": 2})

    assert fallback_models("m", BOOM, policy) == ["a", "b"]
    assert (
        fallback_models(
            "m", BOOM, RouterPolicy.from_settings({"max_fallbacks": 0, "default_fallbacks": ["a"]})
        )
        == []
    )
