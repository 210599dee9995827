"""Router state that keeps serving when its shared store is unreachable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.cache.outage import RETRY_SHARED_AFTER
from adapters.cache.resilient_router_state import ResilientRouterState
from domain.deployments import Limits
from domain.router_state import CallOutcome, CooldownReason, DeploymentLoad
from ports.router_state import StateUnavailable

NOW = 1_700_000_000.0


class FlakyRouterState(InMemoryRouterState):
    """In-memory state that can be switched to behave like an unreachable store."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def describe(self) -> str:
        return "redis"

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise StateUnavailable("connection refused")

    async def snapshot(self, deployment_ids: Sequence[str], now: float) -> Mapping[str, DeploymentLoad]:
        self._check()
        return await super().snapshot(deployment_ids, now)

    async def try_begin(self, deployment_id: str, limits: Limits, now: float) -> bool:
        self._check()
        return await super().try_begin(deployment_id, limits, now)

    async def finish(self, deployment_id: str, outcome: CallOutcome, now: float) -> int:
        self._check()
        return await super().finish(deployment_id, outcome, now)

    async def cool_down(
        self, deployment_id: str, until: float, now: float, reason: CooldownReason | None = None
    ) -> None:
        self._check()
        await super().cool_down(deployment_id, until, now, reason)


def _states() -> tuple[FlakyRouterState, InMemoryRouterState, ResilientRouterState]:
    shared, local = FlakyRouterState(), InMemoryRouterState()
    return shared, local, ResilientRouterState(shared, local)


async def test_an_unreachable_store_never_fails_a_call_and_says_so() -> None:
    shared, _, state = _states()
    shared.down = True

    admitted = await state.try_begin("d", Limits(rpm=5), NOW)
    loads = await state.snapshot(["d"], NOW)

    assert admitted
    assert loads["d"].in_flight == 1
    assert state.describe() == "memory (redis unreachable)"


async def test_a_call_begun_locally_is_finished_locally_even_once_the_store_is_back() -> None:
    shared, local, state = _states()
    shared.down = True
    await state.try_begin("d", Limits(), NOW)
    shared.down = False

    await state.finish("d", CallOutcome(tokens=3), NOW + RETRY_SHARED_AFTER + 1)

    assert (await local.snapshot(["d"], NOW))["d"].in_flight == 0
    assert (await shared.snapshot(["d"], NOW))["d"].in_flight == 0


async def test_the_store_is_left_alone_for_a_while_then_tried_again() -> None:
    shared, _, state = _states()
    shared.down = True
    await state.snapshot(["d"], NOW)
    calls_while_down = shared.calls

    await state.snapshot(["d"], NOW + 1)
    shared.down = False
    await state.snapshot(["d"], NOW + RETRY_SHARED_AFTER + 1)

    assert shared.calls == calls_while_down + 1
    assert not state.degraded
