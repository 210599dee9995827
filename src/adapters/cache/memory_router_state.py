"""Router state held in this process: the default when no Redis is configured."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.deployments import Limits
from domain.router_state import IDLE, CallOutcome, CooldownReason, DeploymentLoad
from ports.router_state import RouterState

LATENCY_ALPHA = 0.2
"""Weight of the newest sample in the latency moving averages."""


class _Minute:
    __slots__ = ("failures", "minute", "requests", "tokens")

    def __init__(self, minute: int) -> None:
        self.minute = minute
        self.requests = 0
        self.tokens = 0
        self.failures = 0


class InMemoryRouterState(RouterState):
    """Plain dicts; every method runs without an await, so each is atomic within the event loop. Only the
    current minute of each deployment is kept: an older one is dropped the next time the deployment is
    touched in a later minute. A dead process takes its in-flight counts with it."""

    def __init__(self, *, latency_alpha: float = LATENCY_ALPHA) -> None:
        self._alpha = latency_alpha
        self._in_flight: dict[str, int] = {}
        self._minutes: dict[str, _Minute] = {}
        self._cooldowns: dict[str, tuple[float, CooldownReason | None]] = {}
        self._latency: dict[str, float] = {}
        self._first_token: dict[str, float] = {}

    def describe(self) -> str:
        return "memory"

    async def snapshot(self, deployment_ids: Sequence[str], now: float) -> Mapping[str, DeploymentLoad]:
        minute = int(now // 60)
        return {deployment_id: self._load(deployment_id, minute, now) for deployment_id in deployment_ids}

    async def try_begin(self, deployment_id: str, limits: Limits, now: float) -> bool:
        counts = self._minute(deployment_id, int(now // 60))
        in_flight = self._in_flight.get(deployment_id, 0)
        if (
            (limits.rpm is not None and counts.requests >= limits.rpm)
            or (limits.tpm is not None and counts.tokens >= limits.tpm)
            or (limits.max_parallel_requests is not None and in_flight >= limits.max_parallel_requests)
        ):
            return False
        self._in_flight[deployment_id] = in_flight + 1
        counts.requests += 1
        return True

    async def finish(self, deployment_id: str, outcome: CallOutcome, now: float) -> int:
        in_flight = self._in_flight.get(deployment_id, 0)
        if in_flight > 1:
            self._in_flight[deployment_id] = in_flight - 1
        else:
            self._in_flight.pop(deployment_id, None)
        counts = self._minute(deployment_id, int(now // 60))
        counts.tokens += outcome.tokens
        if outcome.failed:
            counts.failures += 1
        if outcome.latency is not None:
            self._average(self._latency, deployment_id, outcome.latency)
        if outcome.first_token_latency is not None:
            self._average(self._first_token, deployment_id, outcome.first_token_latency)
        return counts.failures

    async def cool_down(
        self, deployment_id: str, until: float, now: float, reason: CooldownReason | None = None
    ) -> None:
        if until > now:
            self._cooldowns[deployment_id] = (until, reason)
        else:
            self._cooldowns.pop(deployment_id, None)

    def _minute(self, deployment_id: str, minute: int) -> _Minute:
        counts = self._minutes.get(deployment_id)
        if counts is None or counts.minute != minute:
            counts = self._minutes[deployment_id] = _Minute(minute)
        return counts

    def _average(self, averages: dict[str, float], deployment_id: str, sample: float) -> None:
        old = averages.get(deployment_id)
        averages[deployment_id] = sample if old is None else old + self._alpha * (sample - old)

    def _load(self, deployment_id: str, minute: int, now: float) -> DeploymentLoad:
        counts = self._minutes.get(deployment_id)
        if counts is not None and counts.minute != minute:
            counts = None
        until, reason = self._cooldowns.get(deployment_id, (None, None))
        if until is not None and until <= now:
            del self._cooldowns[deployment_id]
            until = reason = None
        in_flight = self._in_flight.get(deployment_id, 0)
        latency = self._latency.get(deployment_id)
        first_token = self._first_token.get(deployment_id)
        if counts is None and until is None and not in_flight and latency is None and first_token is None:
            return IDLE
        return DeploymentLoad(
            in_flight=in_flight,
            minute_requests=counts.requests if counts else 0,
            minute_tokens=counts.tokens if counts else 0,
            minute_failures=counts.failures if counts else 0,
            cooldown_until=until,
            cooldown_reason=reason,
            latency=latency,
            first_token_latency=first_token,
        )
