"""Which deployment of a group takes the next call: strategies, limits, cooldowns, tiers, tags, checks."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from domain.completions import CompletionRequest
from domain.deployments import Capabilities, Deployment, Limits
from domain.errors import (
    BadRequestError,
    ContextWindowExceededError,
    NotFoundError,
    UnsupportedParameterError,
)
from domain.messages import (
    FunctionTool,
    ImagePart,
    Message,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
)
from domain.pricing import ModelPrices
from domain.router_policy import RouterPolicy, RoutingStrategy
from domain.router_state import DeploymentLoad
from domain.routing import (
    PARALLEL_WAIT,
    AtCapacity,
    Chosen,
    Exclusion,
    Ineligible,
    Needs,
    Route,
    choose,
    weighted_choice,
)

NOW = 999_960.0  # on a minute boundary: 60 s until the next one
PICKS = 2000
SHUFFLE = RouterPolicy()


def _d(name: str, **fields: object) -> Deployment:
    return Deployment(id=name, model_name="m", provider="openai", upstream_model=name, **fields)  # type: ignore[arg-type]


def _pick(
    candidates: Sequence[Deployment],
    loads: Mapping[str, DeploymentLoad] | None = None,
    policy: RouterPolicy = SHUFFLE,
    seed: int = 7,
    **options: object,
) -> Route:
    return choose(candidates, loads or {}, policy, random.Random(seed), now=NOW, **options)  # type: ignore[arg-type]


def _chosen(route: Route) -> str:
    assert isinstance(route, Chosen), route
    return route.deployment.id


def _shares(
    candidates: Sequence[Deployment],
    loads: Mapping[str, DeploymentLoad] | None = None,
    policy: RouterPolicy = SHUFFLE,
    **options: object,
) -> dict[str, float]:
    rng = random.Random(11)
    counts = Counter(
        _chosen(choose(candidates, loads or {}, policy, rng, now=NOW, **options))  # type: ignore[arg-type]
        for _ in range(PICKS)
    )
    return {name: count / PICKS for name, count in counts.items()}


def _strategy(strategy: RoutingStrategy, **fields: object) -> RouterPolicy:
    return RouterPolicy(strategy=strategy, **fields)  # type: ignore[arg-type]


# simple-shuffle


def test_simple_shuffle_sends_traffic_in_proportion_to_weight() -> None:
    shares = _shares([_d("a", weight=1), _d("b", weight=3)])

    assert shares["a"] == pytest.approx(0.25, abs=0.03)
    assert shares["b"] == pytest.approx(0.75, abs=0.03)


def test_simple_shuffle_weighs_by_rpm_when_no_weight_is_set() -> None:
    shares = _shares([_d("a", limits=Limits(rpm=100)), _d("b", limits=Limits(rpm=400))])

    assert shares["a"] == pytest.approx(0.2, abs=0.03)


def test_simple_shuffle_weighs_by_tpm_when_not_every_deployment_sets_rpm() -> None:
    shares = _shares([_d("a", limits=Limits(rpm=10, tpm=1000)), _d("b", limits=Limits(tpm=3000))])

    assert shares["a"] == pytest.approx(0.25, abs=0.03)


def test_simple_shuffle_spreads_evenly_when_nothing_sets_a_preference() -> None:
    shares = _shares([_d("a"), _d("b"), _d("c")])

    assert all(share == pytest.approx(1 / 3, abs=0.04) for share in shares.values())


def test_weighted_choice_always_picks_a_sole_deployment() -> None:
    only = _d("a")

    assert weighted_choice([only], random.Random(1)) is only


# least-busy


def test_least_busy_picks_the_deployment_with_fewest_calls_in_flight() -> None:
    loads = {
        "a": DeploymentLoad(in_flight=5),
        "b": DeploymentLoad(in_flight=1),
        "c": DeploymentLoad(in_flight=3),
    }

    shares = _shares([_d("a"), _d("b"), _d("c")], loads, _strategy(RoutingStrategy.LEAST_BUSY))

    assert shares == {"b": 1.0}


def test_least_busy_shares_ties_at_random() -> None:
    loads = {
        "a": DeploymentLoad(in_flight=2),
        "b": DeploymentLoad(in_flight=2),
        "c": DeploymentLoad(in_flight=4),
    }

    shares = _shares([_d("a"), _d("b"), _d("c")], loads, _strategy(RoutingStrategy.LEAST_BUSY))

    assert set(shares) == {"a", "b"}
    assert shares["a"] == pytest.approx(0.5, abs=0.04)


# latency-based-routing


def test_latency_routing_picks_the_fastest_deployment() -> None:
    loads = {
        "a": DeploymentLoad(latency=2.0),
        "b": DeploymentLoad(latency=0.5),
        "c": DeploymentLoad(latency=1.0),
    }

    shares = _shares([_d("a"), _d("b"), _d("c")], loads, _strategy(RoutingStrategy.LATENCY_BASED))

    assert shares == {"b": 1.0}


def test_latency_routing_shares_traffic_among_deployments_within_the_buffer_of_the_fastest() -> None:
    loads = {
        "a": DeploymentLoad(latency=1.0),
        "b": DeploymentLoad(latency=1.4),
        "c": DeploymentLoad(latency=1.6),
    }
    policy = _strategy(RoutingStrategy.LATENCY_BASED, latency_buffer=0.5)

    shares = _shares([_d("a"), _d("b"), _d("c")], loads, policy)

    assert set(shares) == {"a", "b"}
    assert shares["a"] == pytest.approx(0.5, abs=0.04)


def test_latency_routing_sends_traffic_to_an_unmeasured_deployment_so_it_gets_measured() -> None:
    loads = {"a": DeploymentLoad(latency=0.2)}

    assert _chosen(_pick([_d("a"), _d("new")], loads, _strategy(RoutingStrategy.LATENCY_BASED))) == "new"


def test_latency_routing_ranks_streams_by_time_to_first_token() -> None:
    loads = {
        "a": DeploymentLoad(latency=1.0, first_token_latency=0.9),
        "b": DeploymentLoad(latency=3.0, first_token_latency=0.1),
    }
    policy = _strategy(RoutingStrategy.LATENCY_BASED)

    assert _chosen(_pick([_d("a"), _d("b")], loads, policy, stream=True)) == "b"
    assert _chosen(_pick([_d("a"), _d("b")], loads, policy, stream=False)) == "a"


# usage-based-routing


@pytest.mark.parametrize("strategy", [RoutingStrategy.USAGE_BASED, RoutingStrategy.USAGE_BASED_V2])
def test_usage_routing_picks_the_most_headroom_as_a_share_of_each_limit(strategy: RoutingStrategy) -> None:
    big = _d("big", limits=Limits(rpm=1000))  # 500 used: half left
    small = _d("small", limits=Limits(rpm=10))  # 2 used: four fifths left
    loads = {"big": DeploymentLoad(minute_requests=500), "small": DeploymentLoad(minute_requests=2)}

    assert _chosen(_pick([big, small], loads, _strategy(strategy))) == "small"


def test_usage_routing_prefers_a_deployment_the_prompt_still_fits_in_this_minute() -> None:
    tight = _d("tight", limits=Limits(tpm=1000))  # 10% used, but 950 more tokens would not fit
    roomy = _d("roomy", limits=Limits(tpm=100_000))  # 50% used
    loads = {"tight": DeploymentLoad(minute_tokens=100), "roomy": DeploymentLoad(minute_tokens=50_000)}

    route = _pick([tight, roomy], loads, _strategy(RoutingStrategy.USAGE_BASED), prompt_tokens=950)

    assert _chosen(route) == "roomy"


def test_usage_routing_spreads_fresh_deployments_evenly() -> None:
    group = [_d("a", limits=Limits(rpm=100)), _d("b", limits=Limits(rpm=100))]

    shares = _shares(group, policy=_strategy(RoutingStrategy.USAGE_BASED))

    assert shares["a"] == pytest.approx(0.5, abs=0.04)


# cost-based-routing


def test_cost_routing_picks_the_cheapest_deployment_and_shares_ties() -> None:
    cheap = ModelPrices(input=Decimal("0.000001"), output=Decimal("0.000002"))
    group = [
        _d("a", prices=cheap),
        _d("b", prices=ModelPrices(input=Decimal("0.00001"), output=Decimal("0.00003"))),
        _d("c", prices=cheap),
    ]

    shares = _shares(group, policy=_strategy(RoutingStrategy.COST_BASED))

    assert set(shares) == {"a", "c"}
    assert shares["a"] == pytest.approx(0.5, abs=0.04)


def test_cost_routing_counts_a_price_the_config_does_not_set_as_free() -> None:
    group = [
        _d("priced", prices=ModelPrices(input=Decimal("0.000001"), output=Decimal("0.000002"))),
        _d("local"),
        _d("input-only", prices=ModelPrices(input=Decimal("0.000001"))),
    ]

    shares = _shares(group, policy=_strategy(RoutingStrategy.COST_BASED))

    assert set(shares) == {"local"}


# limits


@pytest.mark.parametrize(
    ("limits", "load"),
    [
        (Limits(rpm=10), DeploymentLoad(minute_requests=10)),
        (Limits(tpm=1000), DeploymentLoad(minute_tokens=1000)),
        (Limits(max_parallel_requests=2), DeploymentLoad(in_flight=2)),
    ],
)
def test_a_deployment_at_any_of_its_limits_takes_no_calls(limits: Limits, load: DeploymentLoad) -> None:
    shares = _shares([_d("full", limits=limits), _d("free")], {"full": load})

    assert shares == {"free": 1.0}


def test_when_every_deployment_is_at_its_minute_limit_the_caller_waits_for_the_next_minute() -> None:
    group = [_d("a", limits=Limits(rpm=1)), _d("b", limits=Limits(tpm=10))]
    loads = {"a": DeploymentLoad(minute_requests=1), "b": DeploymentLoad(minute_tokens=10)}

    route = choose(group, loads, SHUFFLE, random.Random(1), now=NOW + 45)

    assert route == AtCapacity(retry_after=15.0)


def test_when_only_parallel_limits_block_the_caller_looks_again_soon() -> None:
    group = [_d("a", limits=Limits(max_parallel_requests=1)), _d("b", limits=Limits(rpm=1))]
    loads = {"a": DeploymentLoad(in_flight=1), "b": DeploymentLoad(minute_requests=1)}

    assert _pick(group, loads) == AtCapacity(retry_after=PARALLEL_WAIT)


# cooldowns and the last healthy deployment


def test_a_deployment_cooling_down_takes_no_calls() -> None:
    shares = _shares([_d("a"), _d("b")], {"a": DeploymentLoad(cooldown_until=NOW + 5)})

    assert shares == {"b": 1.0}


def test_a_cooldown_that_has_ended_puts_the_deployment_back_in_rotation() -> None:
    shares = _shares([_d("a"), _d("b")], {"a": DeploymentLoad(cooldown_until=NOW)})

    assert set(shares) == {"a", "b"}


def test_a_group_never_cools_to_zero_the_deployment_that_recovers_first_still_serves() -> None:
    loads = {"a": DeploymentLoad(cooldown_until=NOW + 30), "b": DeploymentLoad(cooldown_until=NOW + 3)}

    route = _pick([_d("a"), _d("b")], loads)

    assert route == Chosen(_d("b"), cooling_down=True)


def test_a_healthy_deployment_at_its_limit_is_waited_for_rather_than_one_cooling_down() -> None:
    group = [_d("sick"), _d("busy", limits=Limits(rpm=1))]
    loads = {"sick": DeploymentLoad(cooldown_until=NOW + 30), "busy": DeploymentLoad(minute_requests=1)}

    # the caller looks again once the first of them may serve: the sick one's cooldown ends first
    assert _pick(group, loads) == AtCapacity(retry_after=30.0)


def test_a_deployment_both_cooling_and_full_is_waited_for_until_both_have_passed() -> None:
    group = [_d("a", limits=Limits(rpm=1))]
    loads = {"a": DeploymentLoad(minute_requests=1, cooldown_until=NOW + 90)}

    assert _pick(group, loads) == AtCapacity(retry_after=90.0)


# retries avoid the deployment that just failed


def test_a_retry_goes_to_another_healthy_deployment_never_back_to_the_one_that_failed() -> None:
    shares = _shares([_d("a"), _d("b"), _d("c")], avoid={"a"})

    assert set(shares) == {"b", "c"}


def test_a_retry_in_a_group_of_one_goes_back_to_its_only_deployment() -> None:
    assert _chosen(_pick([_d("a")], avoid={"a"})) == "a"


def test_a_retry_prefers_the_healthy_failed_deployment_to_others_cooling_down() -> None:
    loads = {"b": DeploymentLoad(cooldown_until=NOW + 10)}

    assert _pick([_d("a"), _d("b")], loads, avoid={"a"}) == Chosen(_d("a"))


def test_when_all_are_cooling_a_retry_prefers_one_that_failed_earlier_to_the_one_that_just_failed() -> None:
    loads = {"a": DeploymentLoad(cooldown_until=NOW + 5), "b": DeploymentLoad(cooldown_until=NOW + 20)}

    assert _pick([_d("a"), _d("b")], loads, avoid={"a"}) == Chosen(_d("b"), cooling_down=True)


# order tiers


def test_the_lowest_order_tier_takes_every_call() -> None:
    group = [_d("first", order=1), _d("second", order=2), _d("unordered")]

    assert _shares(group) == {"first": 1.0}


def test_the_next_tier_serves_when_the_first_is_cooling_down_or_full() -> None:
    group = [_d("a", order=1, limits=Limits(rpm=1)), _d("b", order=1), _d("c", order=2), _d("d")]
    loads = {"a": DeploymentLoad(minute_requests=1), "b": DeploymentLoad(cooldown_until=NOW + 5)}

    assert _shares(group, loads) == {"c": 1.0}


def test_deployments_without_an_order_serve_last() -> None:
    group = [_d("ordered", order=5), _d("unordered")]

    assert _shares(group, {"ordered": DeploymentLoad(cooldown_until=NOW + 5)}) == {"unordered": 1.0}


# tags

TAGGING = RouterPolicy(enable_tag_filtering=True)


def test_tags_route_nothing_unless_tag_filtering_is_enabled() -> None:
    group = [_d("free", tags=("free",)), _d("paid", tags=("paid",))]

    assert set(_shares(group, tags=("paid",))) == {"free", "paid"}


def test_a_tagged_request_goes_to_deployments_carrying_any_of_its_tags_by_default() -> None:
    group = [_d("free", tags=("free",)), _d("paid", tags=("paid", "eu")), _d("other", tags=("x",))]

    assert set(_shares(group, policy=TAGGING, tags=("paid", "free"))) == {"free", "paid"}


def test_a_tagged_request_goes_only_to_deployments_carrying_all_its_tags_when_matching_all() -> None:
    group = [_d("paid-us", tags=("paid", "us")), _d("paid-eu", tags=("paid", "eu")), _d("eu", tags=("eu",))]
    policy = RouterPolicy(enable_tag_filtering=True, tag_filtering_match_any=False)

    assert _shares(group, policy=policy, tags=("paid", "eu")) == {"paid-eu": 1.0}


def test_an_untagged_request_prefers_deployments_tagged_default() -> None:
    group = [_d("free", tags=("free",)), _d("fallback", tags=("default",)), _d("plain")]

    assert _shares(group, policy=TAGGING) == {"fallback": 1.0}


def test_an_untagged_request_goes_anywhere_when_no_deployment_is_tagged_default() -> None:
    group = [_d("free", tags=("free",)), _d("plain")]

    assert set(_shares(group, policy=TAGGING)) == {"free", "plain"}


def test_a_request_whose_tags_match_nothing_goes_to_the_default_deployments() -> None:
    group = [_d("free", tags=("free",)), _d("fallback", tags=("default",))]

    assert _shares(group, policy=TAGGING, tags=("gold",)) == {"fallback": 1.0}


def test_a_request_whose_tags_match_nothing_and_no_default_is_refused_as_a_bad_request() -> None:
    route = _pick([_d("free", tags=("free",))], policy=TAGGING, tags=("gold",))

    assert isinstance(route, Ineligible) and route.reason is Exclusion.TAGS
    error = route.error("m")
    assert type(error) is BadRequestError and "gold" in error.message


# pre-call checks

CHECKING = RouterPolicy(enable_pre_call_checks=True)


def test_pre_call_checks_skip_deployments_whose_context_window_is_too_small() -> None:
    group = [_d("small", capabilities=Capabilities(max_input_tokens=1000)), _d("large")]

    assert _shares(group, policy=CHECKING, prompt_tokens=5000) == {"large": 1.0}


def test_a_prompt_too_large_for_every_deployment_is_a_context_window_error_so_its_fallbacks_fire() -> None:
    group = [_d("a", capabilities=Capabilities(max_input_tokens=1000))]

    route = _pick(group, policy=CHECKING, prompt_tokens=5000)

    assert isinstance(route, Ineligible)
    assert isinstance(route.error("m"), ContextWindowExceededError)


@pytest.mark.parametrize(
    ("needs", "missing", "param"),
    [
        (Needs(tools=True), Capabilities(tools=False), "tools"),
        (Needs(vision=True), Capabilities(vision=False), "messages"),
        (Needs(response_schema=True), Capabilities(response_schema=False), "response_format"),
    ],
)
def test_pre_call_checks_skip_deployments_lacking_a_needed_capability(
    needs: Needs, missing: Capabilities, param: str
) -> None:
    assert _shares([_d("lacking", capabilities=missing), _d("able")], policy=CHECKING, needs=needs) == {
        "able": 1.0
    }

    route = _pick([_d("lacking", capabilities=missing)], policy=CHECKING, needs=needs)

    assert isinstance(route, Ineligible)
    error = route.error("m")
    assert isinstance(error, UnsupportedParameterError) and error.param == param


def test_without_pre_call_checks_the_request_goes_even_where_it_may_not_fit() -> None:
    group = [_d("small", capabilities=Capabilities(max_input_tokens=10, tools=False))]

    assert _chosen(_pick(group, prompt_tokens=5000, needs=Needs(tools=True))) == "small"


def test_a_request_needs_tools_vision_and_json_schema_as_it_asks_for_them() -> None:
    plain = CompletionRequest(model="m", messages=(Message(Role.USER, "hi"),))
    rich = CompletionRequest(
        model="m",
        messages=(Message(Role.USER, (TextPart("see"), ImagePart("https://x/cat.png"))),),
        tools=(FunctionTool("f"),),
        response_format=ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="s", schema={}),
    )

    assert Needs.of(plain) == Needs()
    assert Needs.of(rich) == Needs(tools=True, vision=True, response_schema=True)


def test_a_group_without_deployments_is_an_unknown_model() -> None:
    route = _pick([])

    assert isinstance(route, Ineligible)
    error = route.error("m")
    assert isinstance(error, NotFoundError) and error.code == "model_not_found"
