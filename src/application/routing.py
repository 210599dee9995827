"""The router: which deployment takes each attempt, and what each outcome teaches the shared state."""

from __future__ import annotations

import random
from collections.abc import Sequence

from domain.completions import CompletionRequest
from domain.deployments import Deployment, ModelGroup
from domain.errors import RateLimitError, SwitchyardError
from domain.retries import cooldown_until
from domain.router_policy import RouterPolicy
from domain.router_state import CallOutcome
from domain.routing import AtCapacity, Chosen, Needs, choose
from ports.clock import Clock
from ports.router_state import RouterState

_ADMISSION_RACES = 3
"""Times a deployment may be taken from under us between choosing it and claiming its slot."""


class Router:
    """Chooses by the domain's policies over the loads `RouterState` holds (in this process or shared by
    a fleet); claims a slot before each call and gives it back after, counting tokens, latency and
    failures, and cools a deployment down when its failures say so."""

    def __init__(
        self, *, state: RouterState, policy: RouterPolicy, clock: Clock, rng: random.Random | None = None
    ) -> None:
        self._state = state
        self.policy = policy
        self._clock = clock
        self._rng = rng or random.Random()

    async def acquire(
        self,
        group: ModelGroup,
        *,
        request: CompletionRequest | None = None,
        candidates: Sequence[Deployment] | None = None,
        avoid: Sequence[str] = (),
    ) -> Deployment:
        """A deployment of `group` for the next attempt, its slot claimed. Raises the domain error of a
        request no deployment can serve, or RateLimitError (with retry_after) when all are at a limit."""
        pool = list(candidates if candidates is not None else group.deployments)
        ids = [d.id for d in pool]
        needs = Needs.of(request) if request is not None else Needs()
        tags = _tags(request)
        retry_after = 1.0
        for _ in range(_ADMISSION_RACES):
            now = self._clock.now()
            loads = await self._state.snapshot(ids, now)
            route = choose(
                pool, loads, self.policy, self._rng, now=now,
                stream=bool(request and request.stream), needs=needs, tags=tags, avoid=avoid,
            )  # fmt: skip
            if isinstance(route, AtCapacity):
                retry_after = route.retry_after
                break
            if not isinstance(route, Chosen):
                raise route.error(group.name)
            if await self._state.try_begin(route.deployment.id, route.deployment.limits, now):
                return route.deployment
        raise RateLimitError(
            f"Every deployment of {group.name} is at its rate limit; retry in {retry_after:.0f} s.",
            retry_after=retry_after,
            model=group.name,
        )

    async def succeeded(
        self, deployment: Deployment, *, tokens: int, latency: float, first_token: float | None = None
    ) -> None:
        outcome = CallOutcome(tokens=tokens, latency=latency, first_token_latency=first_token)
        await self._state.finish(deployment.id, outcome, self._clock.now())

    async def released(self, deployment: Deployment) -> None:
        """Gives back a slot claimed for a call that was never made."""
        await self._state.finish(deployment.id, CallOutcome(), self._clock.now())

    async def failed(self, deployment: Deployment, error: SwitchyardError, *, latency: float) -> None:
        now = self._clock.now()
        failures = await self._state.finish(deployment.id, CallOutcome(latency=latency, failed=True), now)
        until = cooldown_until(error, failures, self.policy, now)
        if until is not None:
            await self._state.cool_down(deployment.id, until, now)


def _tags(request: CompletionRequest | None) -> tuple[str, ...]:
    if request is None:
        return ()
    tags = request.metadata.get("tags") or request.controls.get("tags") or ()
    return tuple(str(tag) for tag in tags) if isinstance(tags, list | tuple) else ()
