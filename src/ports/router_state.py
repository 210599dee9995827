"""The port that holds the router's per-deployment state, in one process or shared by a fleet."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from domain.deployments import Limits
from domain.router_state import CallOutcome, CooldownReason, DeploymentLoad


class RouterState(ABC):
    """Calls in flight, this minute's requests, tokens and failures, cooldowns and latency averages, per
    deployment id.

    Contract:
    - Every method is at most one round trip to wherever the state lives (pipelined or scripted);
      minute counters and cooldowns expire by themselves, nothing needs sweeping.
    - `try_begin` is atomic across every process sharing the state: two callers can never both take the
      last slot of a deployment's `rpm` or `max_parallel_requests`, nor start a call once the minute's
      tokens reached `tpm`.
    - `finish` is called exactly once for every admitted call, however the call ended; in-flight counts
      never go below zero.
    - `now` is wall-clock seconds from the caller's Clock, so that tests (and a fleet) agree on minutes; a
      minute is `int(now // 60)`, and each method counts in the minute of the `now` it is given.
    - The in-flight slots of a process that dies mid-call are released by themselves after a bounded time
      (the adapter's to state), never held forever.
    - Implementations raise nothing of their backing store: an unreachable store raises
      `StateUnavailable`, and the caller decides to degrade.
    """

    def describe(self) -> str:
        """Where the state lives, for the readiness check (e.g. "memory", "redis")."""
        return type(self).__name__

    @abstractmethod
    async def snapshot(self, deployment_ids: Sequence[str], now: float) -> Mapping[str, DeploymentLoad]:
        """The load of each named deployment; one never seen reads as `domain.router_state.IDLE`."""

    @abstractmethod
    async def try_begin(self, deployment_id: str, limits: Limits, now: float) -> bool:
        """Admits one call if the deployment is under its limits, counting it in flight and in this
        minute's requests; False (counting nothing) when a limit is reached."""

    @abstractmethod
    async def finish(self, deployment_id: str, outcome: CallOutcome, now: float) -> int:
        """Ends an admitted call: releases its in-flight slot, adds its tokens to this minute's usage and
        its latencies to the moving averages, counts a failure. Returns this minute's failures so far."""

    @abstractmethod
    async def cool_down(
        self, deployment_id: str, until: float, now: float, reason: CooldownReason | None = None
    ) -> None:
        """Keeps the deployment out of routing until `until` (wall-clock seconds): its snapshot reads
        `cooldown_until=until` and `cooldown_reason=reason` while `now < until`. The latest call wins,
        shorter or longer, its reason with it; an `until` not after `now` ends any cooldown. Kept in the
        same write as the cooldown itself: a reason costs no extra round trip."""


class StateUnavailable(Exception):
    """The shared state cannot be reached; the router falls back to local state."""
