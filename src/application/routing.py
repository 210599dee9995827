"""The router: which deployment takes each attempt, and what each outcome teaches the shared state."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Sequence

from domain.completions import CompletionRequest
from domain.deployments import Deployment, ModelGroup
from domain.errors import RateLimitError, SwitchyardError
from domain.retries import cooldown_until
from domain.router_policy import RouterPolicy
from domain.router_state import CallOutcome, CooldownReason
from domain.routing import AtCapacity, Chosen, Needs, choose
from ports.clock import Clock
from ports.router_state import RouterState
from ports.token_counter import TokenCounter

_ADMISSION_RACES = 3
"""Times a deployment may be taken from under us between choosing it and claiming its slot."""
QUEUE_CAPACITY = 1000
"""Calls that may wait for a slot in one model group; more are answered 429 at once."""


class WaitingRoom:
    """Calls waiting for a slot in one model group, the lowest `priority` first, then the earliest. A
    slot freed in this process wakes the first waiter; slots freed elsewhere in the fleet are noticed
    when a waiter's timer (the limit's reset) runs out."""

    def __init__(self, capacity: int = QUEUE_CAPACITY) -> None:
        self._capacity = capacity
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def full(self) -> bool:
        return len(self._waiting) >= self._capacity

    async def wait(self, priority: int, seconds: float) -> None:
        entry = (priority, next(self._order), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiting, entry)
        try:
            # Not asyncio.wait_for: on Python 3.11 a caller cancelled as its turn comes would lose the
            # cancellation and call on for a client that has left.
            async with asyncio.timeout(seconds):
                await asyncio.shield(entry[2])
        except TimeoutError:
            pass
        finally:
            if not entry[2].done():
                entry[2].cancel()

    def wake_one(self) -> None:
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)
                return


class Router:
    """Chooses by the domain's policies over the loads `RouterState` holds (in this process or shared by
    a fleet); claims a slot before each call and gives it back after, counting tokens, latency and
    failures, and cools a deployment down when its failures say so."""

    def __init__(
        self,
        *,
        state: RouterState,
        policy: RouterPolicy,
        clock: Clock,
        token_counter: TokenCounter | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._state = state
        self.policy = policy
        self._clock = clock
        self._counter = token_counter
        self._rng = rng or random.Random()
        self._rooms: dict[str, WaitingRoom] = {}

    async def acquire(
        self,
        group: ModelGroup,
        *,
        request: CompletionRequest | None = None,
        candidates: Sequence[Deployment] | None = None,
        avoid: Sequence[str] = (),
        priority: int | None = None,
        wait_until: float | None = None,
    ) -> Deployment:
        """A deployment of `group` for the next attempt, its slot claimed. Raises the domain error of a
        request no deployment can serve. When all are at a limit, a call with a deadline (`wait_until`,
        monotonic seconds) waits its turn, by `priority` (lowest first), until then; any other, or one
        whose time ran out, gets RateLimitError with retry_after."""
        pool = list(candidates if candidates is not None else group.deployments)
        ids = [d.id for d in pool]
        needs = Needs.of(request) if request is not None else Needs()
        tags = _tags(request)
        prompt_tokens = self._prompt_tokens(request, pool)
        races = 0
        while True:
            now = self._clock.now()
            loads = await self._state.snapshot(ids, now)
            route = choose(
                pool, loads, self.policy, self._rng, now=now, stream=bool(request and request.stream),
                prompt_tokens=prompt_tokens, needs=needs, tags=tags, avoid=avoid,
            )  # fmt: skip
            if isinstance(route, Chosen):
                if await self._state.try_begin(route.deployment.id, route.deployment.limits, now):
                    return route.deployment
                races += 1
                if races < _ADMISSION_RACES:
                    continue
                route = AtCapacity(retry_after=1.0)
            if not isinstance(route, AtCapacity):
                raise route.error(group.name)
            await self._wait_or_refuse(group.name, route.retry_after, priority, wait_until)

    async def _wait_or_refuse(
        self, model: str, retry_after: float, priority: int | None, wait_until: float | None
    ) -> None:
        room = self._rooms.setdefault(model, WaitingRoom())
        left = 0.0
        if wait_until is not None or priority is not None:
            left = wait_until if wait_until is not None else self._clock.monotonic() + retry_after
            left -= self._clock.monotonic()
        if left <= 0 or room.full():
            raise RateLimitError(
                f"Every deployment of {model} is at its rate limit; retry in {retry_after:.0f} s.",
                retry_after=retry_after,
                model=model,
            )
        await room.wait(priority or 0, min(retry_after, left))

    def _prompt_tokens(self, request: CompletionRequest | None, pool: Sequence[Deployment]) -> int | None:
        """The prompt's size where a decision reads it: counted exactly for the context-window pre-call
        check; estimated for usage-based routing, where a tokenizer's time and memory (tens of MB per
        encoding) would cost more than the precision gains."""
        if request is None or not pool:
            return None
        if self.policy.enable_pre_call_checks and self._counter is not None:
            return self._counter.count_messages(request.messages, pool[0].upstream_model, request.tools)
        if self.policy.strategy.startswith("usage"):
            return sum(len(message.text) for message in request.messages) // 4 + 3 * len(request.messages)
        return None

    def _freed(self, deployment: Deployment) -> None:
        room = self._rooms.get(deployment.model_name)
        if room is not None:
            room.wake_one()

    async def succeeded(
        self, deployment: Deployment, *, tokens: int, latency: float, first_token: float | None = None
    ) -> None:
        outcome = CallOutcome(tokens=tokens, latency=latency, first_token_latency=first_token)
        await self._state.finish(deployment.id, outcome, self._clock.now())
        self._freed(deployment)

    async def released(self, deployment: Deployment) -> None:
        """Gives back a slot claimed for a call that was never made."""
        await self._state.finish(deployment.id, CallOutcome(), self._clock.now())
        self._freed(deployment)

    async def failed(self, deployment: Deployment, error: SwitchyardError, *, latency: float) -> None:
        now = self._clock.now()
        failures = await self._state.finish(deployment.id, CallOutcome(latency=latency, failed=True), now)
        self._freed(deployment)
        until = cooldown_until(error, failures, self.policy, now)
        if until is not None:
            await self._state.cool_down(deployment.id, until, now, CooldownReason.of(error))


def _tags(request: CompletionRequest | None) -> tuple[str, ...]:
    if request is None:
        return ()
    tags = request.metadata.get("tags") or request.controls.get("tags") or ()
    return tuple(str(tag) for tag in tags) if isinstance(tags, list | tuple) else ()
