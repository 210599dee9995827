"""Pure routing choices: which deployment of a group takes the next call, or why none can."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.completions import CompletionRequest
from domain.deployments import Deployment
from domain.errors import (
    BadRequestError,
    ContextWindowExceededError,
    NotFoundError,
    SwitchyardError,
    UnsupportedParameterError,
)
from domain.frozen import frozen
from domain.messages import ImagePart, ResponseFormatType
from domain.pricing import ZERO
from domain.router_policy import RouterPolicy, RoutingStrategy
from domain.router_state import IDLE, DeploymentLoad

MINUTE = 60.0
PARALLEL_WAIT = 1.0
"""Seconds to wait for a slot when only `max_parallel_requests` blocks: calls in flight end at no time
we can know, so a queued caller should look again soon."""

_State = tuple[Deployment, DeploymentLoad]


@frozen
class Needs:
    """What a request asks of a deployment beyond its model name (pre-call checks)."""

    tools: bool = False
    vision: bool = False
    response_schema: bool = False

    @classmethod
    def of(cls, request: CompletionRequest) -> Needs:
        return cls(
            tools=bool(request.tools),
            vision=any(
                isinstance(part, ImagePart)
                for message in request.messages
                if isinstance(message.content, tuple)
                for part in message.content
            ),
            response_schema=request.response_format is not None
            and request.response_format.type is ResponseFormatType.JSON_SCHEMA,
        )


class Exclusion(StrEnum):
    """Why no deployment of a group may take a request at all (not merely now)."""

    NO_DEPLOYMENTS = "no_deployments"
    TAGS = "tags"
    CONTEXT_WINDOW = "context_window"
    TOOLS = "tools"
    VISION = "vision"
    RESPONSE_SCHEMA = "response_schema"


@frozen
class Chosen:
    deployment: Deployment
    cooling_down: bool = False
    """Every eligible deployment was cooling down and this one recovers first: a group never cools its
    last deployment to zero."""


@frozen
class AtCapacity:
    """Every eligible deployment is at its rpm, tpm or parallel limit: queue, or answer 429."""

    retry_after: float
    """Seconds until the first of them may have room again."""


@frozen
class Ineligible:
    """No deployment can serve this request however long it waits."""

    reason: Exclusion
    message: str

    def error(self, model: str) -> SwitchyardError:
        """The domain error to answer with; a context window one lets context_window_fallbacks fire."""
        match self.reason:
            case Exclusion.NO_DEPLOYMENTS:
                return NotFoundError(self.message, code="model_not_found", param="model", model=model)
            case Exclusion.TAGS:
                return BadRequestError(self.message, param="tags", model=model)
            case Exclusion.CONTEXT_WINDOW:
                return ContextWindowExceededError(self.message, param="messages", model=model)
            case Exclusion.VISION:
                return UnsupportedParameterError(self.message, param="messages", model=model)
            case Exclusion.RESPONSE_SCHEMA:
                return UnsupportedParameterError(self.message, param="response_format", model=model)
            case _:
                return UnsupportedParameterError(self.message, param="tools", model=model)


Route = Chosen | AtCapacity | Ineligible


def choose(
    candidates: Sequence[Deployment],
    loads: Mapping[str, DeploymentLoad],
    policy: RouterPolicy,
    rng: random.Random,
    *,
    now: float,
    stream: bool = False,
    prompt_tokens: int | None = None,
    needs: Needs = Needs(),  # noqa: B008 (frozen: one shared default is safe)
    tags: Collection[str] = (),
    avoid: Collection[str] = (),
) -> Route:
    """The deployment of a group that takes the next call.

    Order of filters: tags and pre-call checks (hard: failing them is `Ineligible`), then cooldowns and
    limits (soft: `AtCapacity` says when to look again), then the lowest `order` tier among the rest,
    then the strategy. `loads` is keyed by deployment id; a missing one is idle. `avoid` names
    deployments that just failed this request: another healthy one is preferred, but a group whose only
    healthy deployment is avoided still gets it.
    """
    if not candidates:
        return Ineligible(Exclusion.NO_DEPLOYMENTS, "no deployment serves this model")
    eligible = _eligible(candidates, policy, prompt_tokens, needs, tags)
    if isinstance(eligible, Ineligible):
        return eligible
    others = [d for d in eligible if d.id not in avoid]
    if not others or len(others) == len(eligible):
        return _route(eligible, loads, policy, rng, now, stream, prompt_tokens)
    elsewhere = _route(others, loads, policy, rng, now, stream, prompt_tokens)
    if isinstance(elsewhere, Chosen) and not elsewhere.cooling_down:
        return elsewhere
    anywhere = _route(eligible, loads, policy, rng, now, stream, prompt_tokens)
    if isinstance(anywhere, Chosen) and not anywhere.cooling_down:
        return anywhere
    # Everything is cooling down: one that failed earlier beats the one that failed just now.
    return elsewhere if isinstance(elsewhere, Chosen) else anywhere


def has_room(deployment: Deployment, load: DeploymentLoad) -> bool:
    """Under every limit the deployment sets, counted as `RouterState.try_begin` counts them."""
    limits = deployment.limits
    return not (
        (limits.rpm is not None and load.minute_requests >= limits.rpm)
        or (limits.tpm is not None and load.minute_tokens >= limits.tpm)
        or (limits.max_parallel_requests is not None and load.in_flight >= limits.max_parallel_requests)
    )


def weighted_choice(deployments: Sequence[Deployment], rng: random.Random) -> Deployment:
    """simple-shuffle: at random in proportion to `weight`; when no deployment sets a weight, to `rpm`
    when all set one, else to `tpm` when all set one, else evenly (LiteLLM's order of preference)."""
    if len(deployments) == 1:
        return deployments[0]
    weights = _shuffle_weights(deployments)
    if sum(weights) <= 0:
        return rng.choice(deployments)
    return rng.choices(deployments, weights)[0]


def _route(
    pool: Sequence[Deployment],
    loads: Mapping[str, DeploymentLoad],
    policy: RouterPolicy,
    rng: random.Random,
    now: float,
    stream: bool,
    prompt_tokens: int | None,
) -> Route:
    states = [(d, loads.get(d.id, IDLE)) for d in pool]
    healthy = [s for s in states if not s[1].cooling_down(now)]
    if healthy:
        open_ = [s for s in healthy if has_room(*s)]
        if open_:
            return Chosen(_pick(_first_tier(open_), policy, rng, stream, prompt_tokens))
    else:
        open_ = [s for s in states if has_room(*s)]
        if open_:
            soonest = min(open_, key=lambda s: (s[1].cooldown_until or 0.0, _tier(s[0])))
            return Chosen(soonest[0], cooling_down=True)
    return AtCapacity(min(_wait(d, load, now) for d, load in states))


def _eligible(
    candidates: Sequence[Deployment],
    policy: RouterPolicy,
    prompt_tokens: int | None,
    needs: Needs,
    tags: Collection[str],
) -> list[Deployment] | Ineligible:
    pool = list(candidates)
    if policy.enable_tag_filtering:
        pool = _by_tags(pool, tags, policy.tag_filtering_match_any)
        if not pool:
            wanted = ", ".join(sorted(tags))
            return Ineligible(Exclusion.TAGS, f"no deployment of this model carries the tags {wanted}")
    if not policy.enable_pre_call_checks:
        return pool
    if prompt_tokens is not None:
        fitting = [d for d in pool if _fits(d, prompt_tokens)]
        if not fitting:
            largest = max(d.capabilities.max_input_tokens or 0 for d in pool)
            return Ineligible(
                Exclusion.CONTEXT_WINDOW,
                f"the prompt's {prompt_tokens} tokens exceed the context window of every deployment"
                f" of this model (the largest takes {largest})",
            )
        pool = fitting
    checks: tuple[tuple[bool, Exclusion, str, Callable[[Deployment], bool]], ...] = (
        (needs.tools, Exclusion.TOOLS, "tools", lambda d: d.capabilities.tools),
        (needs.vision, Exclusion.VISION, "image inputs", lambda d: d.capabilities.vision),
        (
            needs.response_schema,
            Exclusion.RESPONSE_SCHEMA,
            "json schema",
            lambda d: d.capabilities.response_schema,
        ),
    )
    for needed, reason, what, able in checks:
        if needed:
            pool = [d for d in pool if able(d)]
            if not pool:
                return Ineligible(reason, f"no deployment of this model supports {what}")
    return pool


def _by_tags(pool: list[Deployment], tags: Collection[str], match_any: bool) -> list[Deployment]:
    """LiteLLM's tag routing: a tagged request goes to the deployments carrying its tags (any or all),
    else to those tagged "default"; an untagged one prefers "default" deployments when there are any."""
    defaults = [d for d in pool if "default" in d.tags]
    if not tags:
        return defaults or pool
    wanted = set(tags)
    if match_any:
        matching = [d for d in pool if wanted & set(d.tags)]
    else:
        matching = [d for d in pool if wanted <= set(d.tags)]
    return matching or defaults


def _fits(deployment: Deployment, prompt_tokens: int) -> bool:
    window = deployment.capabilities.max_input_tokens
    return window is None or prompt_tokens <= window


def _tier(deployment: Deployment) -> float:
    return math.inf if deployment.order is None else deployment.order


def _first_tier(states: list[_State]) -> list[_State]:
    best = min(_tier(d) for d, _ in states)
    return [s for s in states if _tier(s[0]) == best]


def _wait(deployment: Deployment, load: DeploymentLoad, now: float) -> float:
    """Seconds until this deployment may take a call: minute counters reset on the minute."""
    limits = deployment.limits
    wait = 0.0
    if (limits.rpm is not None and load.minute_requests >= limits.rpm) or (
        limits.tpm is not None and load.minute_tokens >= limits.tpm
    ):
        wait = MINUTE - now % MINUTE
    elif limits.max_parallel_requests is not None and load.in_flight >= limits.max_parallel_requests:
        wait = PARALLEL_WAIT
    if load.cooldown_until is not None and load.cooldown_until > now:
        wait = max(wait, load.cooldown_until - now)
    return wait


def _pick(
    states: list[_State],
    policy: RouterPolicy,
    rng: random.Random,
    stream: bool,
    prompt_tokens: int | None,
) -> Deployment:
    if len(states) == 1:
        return states[0][0]
    match policy.strategy:
        case RoutingStrategy.LEAST_BUSY:
            return _lowest(states, lambda d, load: load.in_flight, rng)
        case RoutingStrategy.LATENCY_BASED:
            return _fastest(states, policy.latency_buffer, stream, rng)
        case RoutingStrategy.USAGE_BASED | RoutingStrategy.USAGE_BASED_V2:
            return _lowest(states, lambda d, load: _usage_rank(d, load, prompt_tokens), rng)
        case RoutingStrategy.COST_BASED:
            return _lowest(states, lambda d, load: _unit_price(d), rng)
        case _:
            return weighted_choice([d for d, _ in states], rng)


def _unit_price(deployment: Deployment) -> Decimal:
    """Input plus output price per token; an unset price counts as free (a local model costs nothing)."""
    prices = deployment.prices
    return (prices.input or ZERO) + (prices.output or ZERO)


def _lowest(
    states: list[_State], key: Callable[[Deployment, DeploymentLoad], Any], rng: random.Random
) -> Deployment:
    """The deployment with the lowest key; ties at random, so that equals share the traffic."""
    keyed = [(key(d, load), d) for d, load in states]
    best = min(k for k, _ in keyed)
    return rng.choice([d for k, d in keyed if k == best])


def _fastest(states: list[_State], buffer: float, stream: bool, rng: random.Random) -> Deployment:
    """Lowest moving-average latency (time to first token for streams). An unmeasured deployment counts
    as fastest, so that a new one gets traffic and is measured; those within `buffer` of the fastest
    share the traffic, so that near-equals do not flap."""
    latencies = [(load.first_token_latency if stream else load.latency) or 0.0 for _, load in states]
    best = min(latencies)
    return rng.choice(
        [d for (d, _), latency in zip(states, latencies, strict=True) if latency <= best * (1 + buffer)]
    )


def _usage_rank(deployment: Deployment, load: DeploymentLoad, prompt_tokens: int | None) -> tuple[Any, ...]:
    """Deployments the request still fits in this minute first, then the most headroom as a fraction of
    their limits (so that load spreads in proportion to capacity), then the fewest tokens and requests."""
    limits = deployment.limits
    tokens = load.minute_tokens + (prompt_tokens or 0)
    fits = (limits.rpm is None or load.minute_requests + 1 <= limits.rpm) and (
        limits.tpm is None or tokens <= limits.tpm
    )
    fractions = []
    if limits.rpm:
        fractions.append((limits.rpm - load.minute_requests) / limits.rpm)
    if limits.tpm:
        fractions.append((limits.tpm - load.minute_tokens) / limits.tpm)
    return (not fits, -min(fractions, default=1.0), load.minute_tokens, load.minute_requests)


def _shuffle_weights(deployments: Sequence[Deployment]) -> list[float]:
    # Deployment.weight defaults to 1; a group where every weight is the default set none.
    if any(d.weight != 1.0 for d in deployments):
        return [d.weight for d in deployments]
    if all(d.limits.rpm is not None for d in deployments):
        return [float(d.limits.rpm or 0) for d in deployments]
    if all(d.limits.tpm is not None for d in deployments):
        return [float(d.limits.tpm or 0) for d in deployments]
    return [1.0] * len(deployments)
