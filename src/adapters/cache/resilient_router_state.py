"""Router state that survives its shared store going away: Redis while it answers, this process's own
state while it does not. Requests never fail because the shared state is unreachable."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import structlog

from adapters.cache.outage import Outage
from domain.deployments import Limits
from domain.router_state import CallOutcome, CooldownReason, DeploymentLoad
from ports.router_state import RouterState, StateUnavailable

_log = structlog.get_logger("switchyard.router")


class ResilientRouterState(RouterState):
    """The shared state, or the local one while the shared store cannot be reached (logged once per
    outage, and shown by `degraded`). Limits then hold per process, not for the fleet."""

    def __init__(self, shared: RouterState, local: RouterState) -> None:
        self._shared = shared
        self._local = local
        self._outage = Outage(
            _log,
            "shared router state unreachable; using this process's state",
            "shared router state reachable again",
        )
        self._begun_locally: Counter[str] = Counter()

    @property
    def degraded(self) -> bool:
        return self._outage.degraded

    def describe(self) -> str:
        shared = self._shared.describe()
        return f"{self._local.describe()} ({shared} unreachable)" if self.degraded else shared

    async def snapshot(self, deployment_ids: Sequence[str], now: float) -> Mapping[str, DeploymentLoad]:
        if self._outage.use_shared(now):
            try:
                loads = await self._shared.snapshot(deployment_ids, now)
            except StateUnavailable as exc:
                self._outage.lost(now, exc)
            else:
                self._outage.recovered()
                return loads
        return await self._local.snapshot(deployment_ids, now)

    async def try_begin(self, deployment_id: str, limits: Limits, now: float) -> bool:
        if self._outage.use_shared(now):
            try:
                return await self._shared.try_begin(deployment_id, limits, now)
            except StateUnavailable as exc:
                self._outage.lost(now, exc)
        admitted = await self._local.try_begin(deployment_id, limits, now)
        if admitted:
            self._begun_locally[deployment_id] += 1
        return admitted

    async def finish(self, deployment_id: str, outcome: CallOutcome, now: float) -> int:
        # A call ends where it began: the slots the local state handed out are given back to it.
        if self._begun_locally[deployment_id] > 0:
            self._begun_locally[deployment_id] -= 1
            return await self._local.finish(deployment_id, outcome, now)
        try:
            return await self._shared.finish(deployment_id, outcome, now)
        except StateUnavailable as exc:
            self._outage.lost(now, exc)
            return await self._local.finish(deployment_id, outcome, now)

    async def cool_down(
        self, deployment_id: str, until: float, now: float, reason: CooldownReason | None = None
    ) -> None:
        # Kept in both, so that a cooldown outlives a switch between them.
        await self._local.cool_down(deployment_id, until, now, reason)
        if self._outage.use_shared(now):
            try:
                await self._shared.cool_down(deployment_id, until, now, reason)
            except StateUnavailable as exc:
                self._outage.lost(now, exc)
