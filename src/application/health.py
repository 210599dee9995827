"""Deployment health: a minimal real call to each deployment, the sweep that cools down those failing,
and each deployment's live routing state."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from application.catalog import ModelCatalog
from domain.compatibility import fit_request
from domain.completions import CompletionRequest, SamplingParams
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest
from domain.errors import SwitchyardError, UnsupportedParameterError
from domain.errors import TimeoutError as UpstreamTimeoutError
from domain.frozen import frozen
from domain.messages import Message, Role
from domain.retries import cooldown_until
from domain.router_policy import RouterPolicy
from domain.router_state import IDLE, CooldownReason, DeploymentLoad
from ports.clock import Clock
from ports.llm_provider import LLMProvider
from ports.router_state import RouterState

PROBE_TEXT = "ping"
DEFAULT_CONCURRENCY = 10
"""Checks in flight at once: enough to check a large model list quickly without flooding an upstream."""
DEFAULT_CHECK_TIMEOUT = 10.0
"""Seconds a check may take (less when the deployment's own timeout is shorter)."""
WILDCARD_SKIPPED = "a wildcard deployment has no concrete model to call"


@frozen
class EndpointHealth:
    """The outcome of one deployment's check."""

    deployment: Deployment
    latency: float
    """Seconds the check took."""
    error: str | None = None
    """Why the deployment is unhealthy; None when it answered."""
    failure: SwitchyardError | None = None
    """The domain error it failed with; None when healthy, or when the check failed in a way no
    deployment is to blame for (a bug), which cools nothing down."""

    @property
    def healthy(self) -> bool:
        return self.error is None


@frozen
class HealthReport:
    healthy: tuple[EndpointHealth, ...] = ()
    unhealthy: tuple[EndpointHealth, ...] = ()
    skipped: tuple[Deployment, ...] = ()
    """Wildcard deployments (`openai/*`): nothing concrete to call."""


def checkable(deployment: Deployment) -> bool:
    return "*" not in deployment.upstream_model


class HealthCheck:
    """Calls every deployment (or a model's) the cheapest real way: a 1-token completion, or a one-input
    embedding for an embedding model. Checks run concurrently, at most `concurrency` at once, each within
    `timeout` seconds (or the deployment's own timeout when shorter). A check never raises: every
    failure is reported on its deployment."""

    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        providers: Mapping[str, LLMProvider],
        mock: LLMProvider,
        clock: Clock,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_CHECK_TIMEOUT,
    ) -> None:
        if concurrency < 1 or timeout <= 0:
            raise ValueError("a health check needs a concurrency of at least 1 and a positive timeout")
        self._catalog = catalog
        self._providers = providers
        self._mock = mock
        self._clock = clock
        self._concurrency = concurrency
        self._timeout = timeout

    async def check(self, model: str | None = None) -> HealthReport:
        """Every deployment, or those serving `model` (NotFoundError when none does; a wildcard's
        deployments are then checked with the concrete model named)."""
        deployments = (
            self._catalog.deployments() if model is None else list(self._catalog.group(model).deployments)
        )
        return await self.check_deployments(deployments)

    async def check_deployments(self, deployments: Sequence[Deployment]) -> HealthReport:
        bound = asyncio.Semaphore(self._concurrency)

        async def bounded(deployment: Deployment) -> EndpointHealth:
            async with bound:
                return await self.probe(deployment)

        results = await asyncio.gather(*(bounded(d) for d in deployments if checkable(d)))
        return HealthReport(
            healthy=tuple(r for r in results if r.healthy),
            unhealthy=tuple(r for r in results if not r.healthy),
            skipped=tuple(d for d in deployments if not checkable(d)),
        )

    async def probe(self, deployment: Deployment) -> EndpointHealth:
        limit = min(self._timeout, deployment.limits.timeout)
        started = self._clock.monotonic()

        def outcome(failure: SwitchyardError | None = None, error: str | None = None) -> EndpointHealth:
            if failure is not None and error is None:
                error = failure.message or type(failure).__name__
            return EndpointHealth(deployment, self._clock.monotonic() - started, error, failure)

        try:
            async with asyncio.timeout(limit):
                await self._call(deployment)
        except SwitchyardError as exc:
            return outcome(
                exc.at(provider=deployment.provider, model=deployment.model_name, deployment=deployment.id)
            )
        except TimeoutError:  # asyncio's, from the bound above
            message = f"Health check timed out after {limit:g} s."
            return outcome(
                UpstreamTimeoutError(message, provider=deployment.provider, deployment=deployment.id)
            )
        except Exception as exc:  # a bug, not the deployment's fault: reported, never raised
            return outcome(error=f"Health check failed unexpectedly ({type(exc).__name__}).")
        return outcome()

    async def _call(self, deployment: Deployment) -> None:
        provider = self._providers.get(deployment.id)
        if provider is None:
            raise UnsupportedParameterError(
                f"no provider adapter serves provider '{deployment.provider}'", param="model"
            )
        caps = deployment.capabilities
        if caps.embeddings and not caps.chat:
            await provider.embed(
                EmbeddingRequest(model=deployment.model_name, inputs=(PROBE_TEXT,)), deployment
            )
            return
        request = CompletionRequest(
            model=deployment.model_name,
            messages=(Message(Role.USER, PROBE_TEXT),),
            params=SamplingParams(max_tokens=1),
            controls={"drop_params": True},  # the probe's own parameters must never fail it
        )
        unsupported = provider.unsupported_params(request, deployment)
        fitted = fit_request(request, deployment, unsupported=unsupported, provider=provider.name).request
        if fitted.mock_response is not None:  # the deployment's configured mock_response
            provider = self._mock
        await provider.complete(fitted, deployment)


class BackgroundHealthChecks:
    """One sweep checks every deployment and cools down those that fail, by the cooldown policy live
    failures follow (`domain.retries.cooldown_until`). A sweep only lengthens a cooldown, never
    shortens or ends one; a deployment that recovers comes back when its cooldown runs out."""

    def __init__(
        self, *, checks: HealthCheck, state: RouterState, policy: RouterPolicy, clock: Clock
    ) -> None:
        self._checks = checks
        self._state = state
        self._policy = policy
        self._clock = clock

    async def sweep(self) -> HealthReport:
        report = await self._checks.check()
        failed = [entry for entry in report.unhealthy if entry.failure is not None]
        if not failed:
            return report
        now = self._clock.now()
        # A check claims no slot, so its failure is not counted in the state's minute failures: it is
        # weighed as one more on top of those, without touching in-flight counts of live calls.
        loads = await self._state.snapshot([entry.deployment.id for entry in failed], now)
        for entry in failed:
            assert entry.failure is not None
            load = loads.get(entry.deployment.id, IDLE)
            until = cooldown_until(entry.failure, load.minute_failures + 1, self._policy, now)
            if until is not None and (load.cooldown_until is None or until > load.cooldown_until):
                reason = CooldownReason.of(entry.failure)
                await self._state.cool_down(entry.deployment.id, until, now, reason)
        return report


@frozen
class DeploymentState:
    deployment: Deployment
    load: DeploymentLoad
    cooling_down_until: float | None
    """Wall-clock seconds until which the router keeps it out; None when it is in rotation."""

    @property
    def healthy(self) -> bool:
        return self.cooling_down_until is None

    @property
    def cooldown_reason(self) -> CooldownReason | None:
        """Why the router keeps it out, when the cooldown was given a reason; None in rotation."""
        return None if self.healthy else self.load.cooldown_reason


class DeploymentStates:
    """Each deployment with its live load, from one read of the router's state."""

    def __init__(self, *, catalog: ModelCatalog, state: RouterState, clock: Clock) -> None:
        self._catalog = catalog
        self._state = state
        self._clock = clock

    async def read(self) -> list[DeploymentState]:
        deployments = self._catalog.deployments()
        now = self._clock.now()
        loads = await self._state.snapshot([d.id for d in deployments], now)
        states = []
        for deployment in deployments:
            load = loads.get(deployment.id, IDLE)
            until = load.cooldown_until if load.cooling_down(now) else None
            states.append(DeploymentState(deployment, load, until))
        return states
