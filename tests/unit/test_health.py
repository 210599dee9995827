"""The health use cases: checking every deployment with a minimal real call, and the background sweep
that feeds failing deployments into the router's cooldowns."""

from __future__ import annotations

import asyncio

import pytest

from adapters.cache.memory_router_state import InMemoryRouterState
from application.catalog import ModelCatalog
from application.health import BackgroundHealthChecks, DeploymentStates, HealthCheck, HealthReport
from bootstrap import run_background_health_checks
from domain.completions import CompletionRequest
from domain.deployments import Capabilities, Deployment, Limits
from domain.embeddings import EmbeddingRequest
from domain.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from domain.router_policy import RouterPolicy
from domain.router_state import CallOutcome, CooldownReason, FailureKind
from tests.fakes import FakeClock, FakeLLMProvider

CHAT = Deployment(id="chat-1", model_name="gpt-x", provider="openai", upstream_model="gpt-4o-mini")
OTHER = Deployment(id="chat-2", model_name="gpt-x", provider="openai", upstream_model="gpt-4o")
EMBEDDER = Deployment(
    id="emb-1",
    model_name="embedder",
    provider="openai",
    upstream_model="text-embedding-3-small",
    capabilities=Capabilities(chat=False, embeddings=True),
)
WILDCARD = Deployment(id="wild", model_name="openai/*", provider="openai", upstream_model="*")


def _checks(
    providers: dict[str, FakeLLMProvider],
    deployments: list[Deployment],
    *,
    mock: FakeLLMProvider | None = None,
    concurrency: int = 10,
    timeout: float = 10.0,
    clock: FakeClock | None = None,
) -> HealthCheck:
    return HealthCheck(
        catalog=ModelCatalog(deployments=deployments),
        providers=providers,
        mock=mock or FakeLLMProvider(),
        clock=clock or FakeClock(),
        concurrency=concurrency,
        timeout=timeout,
    )


def _ids(entries) -> set[str]:
    return {entry.deployment.id for entry in entries}


async def test_a_chat_deployment_is_checked_with_a_one_token_completion() -> None:
    provider = FakeLLMProvider()

    report = await _checks({"chat-1": provider}, [CHAT]).check()

    assert _ids(report.healthy) == {"chat-1"}
    assert not report.unhealthy
    ((request, deployment),) = provider.requests
    assert isinstance(request, CompletionRequest)
    assert request.params.max_tokens == 1
    assert len(request.messages) == 1 and len(request.messages[0].text.split()) == 1
    assert deployment is CHAT


async def test_an_embedding_deployment_is_checked_with_a_one_input_embedding() -> None:
    provider = FakeLLMProvider()

    report = await _checks({"emb-1": provider}, [EMBEDDER]).check()

    assert _ids(report.healthy) == {"emb-1"}
    ((request, _),) = provider.requests
    assert isinstance(request, EmbeddingRequest)
    assert len(request.inputs) == 1


async def test_a_failing_deployment_is_reported_unhealthy_with_the_upstream_message() -> None:
    good, bad = FakeLLMProvider(), FakeLLMProvider([AuthenticationError("Incorrect API key provided")])

    report = await _checks({"chat-1": good, "chat-2": bad}, [CHAT, OTHER]).check()

    assert _ids(report.healthy) == {"chat-1"}
    (unhealthy,) = report.unhealthy
    assert unhealthy.deployment.id == "chat-2"
    assert unhealthy.error == "Incorrect API key provided"
    assert isinstance(unhealthy.failure, AuthenticationError)
    assert unhealthy.failure.deployment == "chat-2"


async def test_a_deployment_slower_than_the_check_timeout_is_unhealthy_and_does_not_hold_the_others() -> None:
    slow, fast = FakeLLMProvider(), FakeLLMProvider()
    slow.delay = 5.0

    report = await asyncio.wait_for(
        _checks({"chat-1": fast, "chat-2": slow}, [CHAT, OTHER], timeout=0.05).check(), 2.0
    )

    assert _ids(report.healthy) == {"chat-1"}
    (unhealthy,) = report.unhealthy
    assert "timed out" in (unhealthy.error or "")
    assert unhealthy.failure is not None and unhealthy.failure.status_code == 408


async def test_a_deployment_timeout_shorter_than_the_check_timeout_wins() -> None:
    slow = FakeLLMProvider()
    slow.delay = 5.0
    impatient = Deployment(
        id="quick", model_name="gpt-x", provider="openai", upstream_model="m", limits=Limits(timeout=0.05)
    )

    report = await asyncio.wait_for(_checks({"quick": slow}, [impatient], timeout=10.0).check(), 2.0)

    assert _ids(report.unhealthy) == {"quick"}


async def test_checks_run_concurrently_but_never_more_than_the_bound_at_once() -> None:
    provider = FakeLLMProvider()
    provider.delay = 0.02
    deployments = [
        Deployment(id=f"d{i}", model_name="gpt-x", provider="openai", upstream_model="m") for i in range(12)
    ]

    report = await _checks({d.id: provider for d in deployments}, deployments, concurrency=3).check()

    assert len(report.healthy) == 12
    assert provider.most_in_flight == 3


async def test_a_wildcard_deployment_is_skipped_not_called() -> None:
    provider = FakeLLMProvider()

    report = await _checks({"chat-1": provider, "wild": provider}, [CHAT, WILDCARD]).check()

    assert [d.id for d in report.skipped] == ["wild"]
    assert _ids(report.healthy) == {"chat-1"}
    assert [deployment.id for _, deployment in provider.requests] == ["chat-1"]


async def test_naming_a_model_checks_only_its_deployments_and_a_wildcard_with_that_model() -> None:
    provider = FakeLLMProvider()
    checks = _checks({"chat-1": provider, "emb-1": provider, "wild": provider}, [CHAT, EMBEDDER, WILDCARD])

    only_gpt = await checks.check("gpt-x")
    through_wildcard = await checks.check("openai/gpt-4.1")

    assert _ids(only_gpt.healthy) == {"chat-1"}
    assert _ids(through_wildcard.healthy) == {"wild"}
    assert provider.requests[-1][1].upstream_model == "gpt-4.1"
    with pytest.raises(NotFoundError):
        await checks.check("nope")


async def test_a_check_never_raises_even_when_the_adapter_has_a_bug() -> None:
    broken = FakeLLMProvider([RuntimeError("secret details of a bug")])

    report = await _checks({"chat-1": broken}, [CHAT]).check()

    (unhealthy,) = report.unhealthy
    assert unhealthy.failure is None
    assert "RuntimeError" in (unhealthy.error or "")
    assert "secret" not in (unhealthy.error or "")


async def test_a_deployment_without_a_provider_adapter_is_unhealthy() -> None:
    report = await _checks({}, [CHAT]).check()

    (unhealthy,) = report.unhealthy
    assert "no provider adapter" in (unhealthy.error or "")


async def test_a_configured_mock_response_is_answered_by_the_mock_provider() -> None:
    upstream, mock = FakeLLMProvider(), FakeLLMProvider()
    mocked = Deployment(
        id="m",
        model_name="gpt-x",
        provider="openai",
        upstream_model="x",
        extra_params={"mock_response": "ok"},
    )

    report = await _checks({"m": upstream}, [mocked], mock=mock).check()

    assert _ids(report.healthy) == {"m"}
    assert not upstream.requests and len(mock.requests) == 1


def _sweeper(
    providers: dict[str, FakeLLMProvider],
    deployments: list[Deployment],
    state: InMemoryRouterState,
    clock: FakeClock,
    policy: RouterPolicy | None = None,
) -> BackgroundHealthChecks:
    return BackgroundHealthChecks(
        checks=_checks(providers, deployments, clock=clock),
        state=state,
        policy=policy or RouterPolicy(cooldown_time=30),
        clock=clock,
    )


async def test_a_sweep_cools_down_a_failing_deployment_and_leaves_a_healthy_one_in_rotation() -> None:
    clock, state = FakeClock(), InMemoryRouterState()
    failing = FakeLLMProvider([ServiceUnavailableError("upstream down")])
    sweeper = _sweeper({"chat-1": FakeLLMProvider(), "chat-2": failing}, [CHAT, OTHER], state, clock)

    report = await sweeper.sweep()

    assert _ids(report.unhealthy) == {"chat-2"}
    loads = await state.snapshot(["chat-1", "chat-2"], clock.now())
    assert loads["chat-2"].cooldown_until == clock.now() + 30
    assert loads["chat-2"].cooldown_reason == CooldownReason(FailureKind.SERVER_ERROR, 503)
    assert not loads["chat-1"].cooling_down(clock.now())
    assert loads["chat-1"].in_flight == loads["chat-2"].in_flight == 0


async def test_a_sweep_honours_an_upstream_retry_after_longer_than_the_cooldown() -> None:
    clock, state = FakeClock(), InMemoryRouterState()
    limited = FakeLLMProvider([RateLimitError("slow down", retry_after=120)])

    await _sweeper({"chat-1": limited}, [CHAT], state, clock).sweep()

    loads = await state.snapshot(["chat-1"], clock.now())
    assert loads["chat-1"].cooldown_until == clock.now() + 120


async def test_a_sweep_never_shortens_a_longer_cooldown_already_in_place() -> None:
    clock, state = FakeClock(), InMemoryRouterState()
    await state.cool_down("chat-1", clock.now() + 600, clock.now())
    failing = FakeLLMProvider([ServiceUnavailableError("down")])

    await _sweeper({"chat-1": failing}, [CHAT], state, clock).sweep()

    loads = await state.snapshot(["chat-1"], clock.now())
    assert loads["chat-1"].cooldown_until == clock.now() + 600


async def test_a_sweep_follows_the_live_policy_for_what_cools_a_deployment() -> None:
    clock, state = FakeClock(), InMemoryRouterState()
    providers = {
        "chat-1": FakeLLMProvider([BadRequestError("the probe itself was refused")]),
        "chat-2": FakeLLMProvider([PermissionDeniedError("not this region")]),
    }

    await _sweeper(providers, [CHAT, OTHER], state, clock, RouterPolicy(allowed_fails=1)).sweep()
    loads = await state.snapshot(["chat-1", "chat-2"], clock.now())
    assert loads["chat-1"].cooldown_until is None  # a bad request never cools a deployment
    assert loads["chat-2"].cooldown_until is None  # one failure is within allowed_fails

    await state.finish("chat-2", CallOutcome(failed=True), clock.now())  # a live failure this minute
    providers["chat-2"].replies.append(PermissionDeniedError("still not"))
    await _sweeper(providers, [OTHER], state, clock, RouterPolicy(allowed_fails=1)).sweep()
    loads = await state.snapshot(["chat-2"], clock.now())
    assert loads["chat-2"].cooldown_until is not None


async def test_a_sweep_cools_nothing_when_cooldowns_are_disabled() -> None:
    clock, state = FakeClock(), InMemoryRouterState()
    failing = FakeLLMProvider([ServiceUnavailableError("down")])

    await _sweeper({"chat-1": failing}, [CHAT], state, clock, RouterPolicy(disable_cooldowns=True)).sweep()

    assert (await state.snapshot(["chat-1"], clock.now()))["chat-1"].cooldown_until is None


class _FlakySweeper:
    """Stands in for the sweep: the first one fails, the rest find nothing."""

    def __init__(self) -> None:
        self.sweeps = 0

    async def sweep(self) -> HealthReport:
        self.sweeps += 1
        if self.sweeps == 1:
            raise RuntimeError("state store hiccup")
        return HealthReport()


async def test_the_background_loop_sweeps_every_interval_and_survives_a_failed_sweep() -> None:
    sweeper = _FlakySweeper()
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 2:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await run_background_health_checks(sweeper, 42.0, sleep=sleep)  # type: ignore[arg-type]

    assert sweeper.sweeps == 2
    assert pauses == [42.0, 42.0]


async def test_deployment_states_read_each_deployment_once_with_its_cooldown_only_while_it_lasts() -> None:
    clock, state = FakeClock(), InMemoryRouterState()
    await state.try_begin("chat-1", Limits(), clock.now())
    await state.cool_down("chat-2", clock.now() + 10, clock.now())
    states = DeploymentStates(catalog=ModelCatalog(deployments=[CHAT, OTHER]), state=state, clock=clock)

    now = {s.deployment.id: s for s in await states.read()}
    clock.advance(11)
    later = {s.deployment.id: s for s in await states.read()}

    assert (now["chat-1"].healthy, now["chat-1"].load.in_flight) == (True, 1)
    assert (now["chat-2"].healthy, now["chat-2"].cooling_down_until) == (False, clock.now() - 1)
    assert later["chat-2"].healthy and later["chat-2"].cooling_down_until is None
