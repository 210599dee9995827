"""The completions use case, edge to edge with fakes."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from adapters.cache.memory_router_state import InMemoryRouterState
from application.catalog import ModelCatalog
from application.completions import Completions
from application.routing import Router
from domain.completions import CompletionRequest, NativeRequest, SamplingParams, assemble
from domain.deployments import Capabilities, Deployment, Limits
from domain.embeddings import EmbeddingRequest
from domain.errors import (
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    UnsupportedParameterError,
)
from domain.messages import FunctionTool, Message, Role
from domain.router_policy import FallbackRule, ModelAlias, RouterPolicy
from domain.router_state import CooldownReason, FailureKind
from tests.fakes import FakeClock, FakeLLMProvider, FakeTelemetry, FakeTokenCounter, chunks_of, reply


def deployment(name: str = "gpt-x", ident: str = "d1", **kwargs: object) -> Deployment:
    return Deployment(id=ident, model_name=name, provider="openai", upstream_model="gpt-4o-mini", **kwargs)


async def _no_wait(seconds: float) -> None:
    return None


def service(
    *deployments: Deployment,
    provider: FakeLLMProvider | None = None,
    mock: FakeLLMProvider | None = None,
    policy: RouterPolicy | None = None,
    state: InMemoryRouterState | None = None,
) -> tuple[Completions, FakeLLMProvider, FakeTelemetry]:
    provider = provider or FakeLLMProvider()
    telemetry = FakeTelemetry()
    deployments = deployments or (deployment(),)
    clock = FakeClock()
    router = Router(
        state=state or InMemoryRouterState(),
        policy=policy or RouterPolicy(num_retries=0),
        clock=clock,
        rng=random.Random(7),
    )
    completions = Completions(
        catalog=ModelCatalog(deployments=deployments),
        providers={d.id: provider for d in deployments},
        mock=mock or FakeLLMProvider(),
        router=router,
        clock=clock,
        telemetry=telemetry,
        rng=random.Random(7),
        sleep=_no_wait,
    )
    return completions, provider, telemetry


def ask(model: str = "gpt-x", **kwargs: object) -> CompletionRequest:
    return CompletionRequest(model=model, messages=(Message(Role.USER, "hi"),), **kwargs)


async def test_a_chat_is_answered_by_a_deployment_of_the_named_model_and_recorded() -> None:
    completions, provider, telemetry = service(provider=FakeLLMProvider(replies=[reply("hello")]))

    served = await completions.chat(ask(), call_id="c1")

    assert served.value.choices[0].message.content == "hello"
    assert served.deployment.id == "d1"
    assert provider.requests[0][1].upstream_model == "gpt-4o-mini"
    assert [(r.call_id, r.kind, r.usage.total_tokens) for r in telemetry.records] == [("c1", "chat", 7)]


async def test_an_unknown_model_is_not_found_with_the_model_not_found_code() -> None:
    completions, _, _ = service()

    with pytest.raises(NotFoundError) as caught:
        await completions.chat(ask("nope"))

    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


async def test_an_upstream_error_is_raised_knowing_its_deployment_and_recorded() -> None:
    failing = FakeLLMProvider(replies=[RateLimitError("slow down", retry_after=3)])
    completions, _, telemetry = service(provider=failing)

    with pytest.raises(RateLimitError) as caught:
        await completions.chat(ask())

    assert (caught.value.deployment, caught.value.provider, caught.value.retry_after) == ("d1", "openai", 3)
    assert telemetry.records[0].error is caught.value


async def test_a_stream_hides_usage_unless_asked_but_always_meters_it() -> None:
    completions, _, telemetry = service(provider=FakeLLMProvider(streams=[chunks_of("a b c")]))

    served = await completions.stream(ask(stream=True), call_id="s1")
    chunks = [chunk async for chunk in served.value]

    assert all(chunk.usage is None for chunk in chunks)
    assert assemble(chunks).choices[0].message.content == "abc"
    assert telemetry.records[0].usage.total_tokens == 7


async def test_a_stream_shows_usage_on_its_last_chunk_when_asked() -> None:
    completions, _, _ = service(provider=FakeLLMProvider(streams=[chunks_of("a b")]))

    served = await completions.stream(ask(stream=True, include_usage=True))
    chunks = [chunk async for chunk in served.value]

    assert chunks[-1].usage is not None and chunks[-1].choices == ()


async def test_a_failure_mid_stream_is_recorded_once_with_its_error() -> None:
    broken = [*chunks_of("a b")[:2], RateLimitError("cut off")]
    completions, _, telemetry = service(provider=FakeLLMProvider(streams=[broken]))

    served = await completions.stream(ask(stream=True))
    with pytest.raises(RateLimitError):
        _ = [chunk async for chunk in served.value]
    await served.value.aclose()

    assert len(telemetry.records) == 1
    assert isinstance(telemetry.records[0].error, RateLimitError)


async def test_closing_a_stream_early_closes_the_upstream_stream() -> None:
    provider = FakeLLMProvider(streams=[chunks_of("a b c d")])
    completions, _, telemetry = service(provider=provider)

    served = await completions.stream(ask(stream=True))
    await served.value.aclose()

    assert provider.opened[0].closed
    assert len(telemetry.records) == 1


async def test_a_mock_response_is_served_by_the_mock_provider_not_the_upstream() -> None:
    mock = FakeLLMProvider(replies=[reply("mocked")])
    completions, upstream, _ = service(mock=mock)

    served = await completions.chat(ask(mock_response="mocked"))

    assert served.value.choices[0].message.content == "mocked"
    assert upstream.requests == []


async def test_tools_sent_to_a_model_without_tool_support_fail_loudly_naming_tools() -> None:
    no_tools = deployment(capabilities=Capabilities(tools=False))
    completions, _, _ = service(no_tools)

    with pytest.raises(UnsupportedParameterError) as caught:
        await completions.chat(ask(tools=(FunctionTool("f"),)))

    assert caught.value.param == "tools"


async def test_tools_are_dropped_for_such_a_model_when_drop_params_is_set() -> None:
    no_tools = deployment(capabilities=Capabilities(tools=False), drop_params=True)
    completions, provider, _ = service(no_tools)

    await completions.chat(ask(tools=(FunctionTool("f"),)))

    assert provider.requests[0][0].tools == ()


async def test_configured_sampling_defaults_apply_only_where_the_caller_set_nothing() -> None:
    tuned = deployment(extra_params={"temperature": 0.2, "max_tokens": 50})
    completions, provider, _ = service(tuned)

    await completions.chat(ask(params=SamplingParams(temperature=0.9)))

    sent = provider.requests[0][0].params
    assert (sent.temperature, sent.max_tokens) == (0.9, 50)


async def test_traffic_is_shared_between_deployments_by_weight() -> None:
    heavy, light = deployment(ident="heavy", weight=3), deployment(ident="light", weight=1)
    completions, _, _ = service(heavy, light)

    served = [(await completions.chat(ask())).deployment.id for _ in range(400)]

    assert 0.65 < served.count("heavy") / 400 < 0.85


async def test_a_wildcard_model_name_serves_any_matching_model_with_the_matched_upstream_id() -> None:
    wildcard = Deployment(id="w", model_name="openai/*", provider="openai", upstream_model="*")
    completions, provider, _ = service(wildcard)

    await completions.chat(ask("openai/gpt-4.1-nano"))

    assert provider.requests[0][1].upstream_model == "gpt-4.1-nano"


async def test_embeddings_go_to_a_deployment_that_serves_embeddings() -> None:
    chat_only = deployment(name="m", ident="chat")
    embedder = deployment(name="m", ident="embed", capabilities=Capabilities(embeddings=True))
    completions, _, telemetry = service(chat_only, embedder)

    served = await completions.embed(EmbeddingRequest(model="m", inputs=("a", "b")))

    assert served.deployment.id == "embed"
    assert len(served.value.data) == 2
    assert telemetry.records[0].kind == "embeddings"


async def test_a_parameter_the_provider_cannot_honour_is_refused_naming_it_and_the_provider() -> None:
    provider = FakeLLMProvider()
    provider.cannot = frozenset({"seed"})
    completions, _, _ = service(provider=provider)

    with pytest.raises(UnsupportedParameterError) as caught:
        await completions.chat(ask(params=SamplingParams(seed=7)))

    assert caught.value.param == "seed"
    assert "fake" in caught.value.message
    assert provider.requests == []


async def test_the_request_may_ask_to_drop_what_the_provider_cannot_honour() -> None:
    provider = FakeLLMProvider()
    provider.cannot = frozenset({"seed", "logit_bias"})
    completions, _, _ = service(provider=provider)

    served = await completions.chat(
        ask(params=SamplingParams(seed=7, temperature=0.5), controls={"drop_params": True})
    )

    sent = provider.requests[0][0].params
    assert (sent.seed, sent.temperature) == (None, 0.5)
    assert served.dropped_params == ("seed",)


async def test_a_deployments_configured_mock_response_answers_without_the_upstream() -> None:
    mocked = deployment(extra_params={"mock_response": "canned"})
    mock = FakeLLMProvider(replies=[reply("canned")])
    completions, upstream, _ = service(mocked, mock=mock)

    served = await completions.chat(ask())

    assert served.value.choices[0].message.content == "canned"
    assert upstream.requests == []


async def test_a_failed_call_is_retried_on_another_deployment_of_the_group() -> None:
    first, second = deployment(ident="first"), deployment(ident="second")
    provider = FakeLLMProvider(replies=[InternalServerError("boom"), reply("saved")])
    completions, _, _ = service(first, second, provider=provider, policy=RouterPolicy(num_retries=2))

    served = await completions.chat(ask())

    tried = [sent_to.id for _, sent_to in provider.requests]
    assert served.value.choices[0].message.content == "saved"
    assert tried[0] != tried[1]
    assert served.retries == 1


async def test_a_deployment_that_answers_429_cools_down_and_gets_no_more_calls() -> None:
    first, second = deployment(ident="first"), deployment(ident="second")
    state = InMemoryRouterState()
    provider = FakeLLMProvider(replies=[RateLimitError("slow down", retry_after=30)])
    completions, _, _ = service(
        first, second, provider=provider, policy=RouterPolicy(num_retries=1), state=state
    )

    await completions.chat(ask())
    failed = provider.requests[0][1].id
    for _ in range(20):
        await completions.chat(ask())

    assert all(sent_to.id != failed for _, sent_to in provider.requests[1:])
    loads = await state.snapshot([failed], FakeClock().now())
    assert loads[failed].cooldown_until is not None
    assert loads[failed].cooldown_reason == CooldownReason(FailureKind.RATE_LIMIT, 429)


async def test_when_retries_run_out_the_fallback_model_answers() -> None:
    primary = deployment(name="gpt-x", ident="p")
    backup = deployment(name="gpt-y", ident="b")
    provider = FakeLLMProvider(replies=[InternalServerError("down"), reply("from backup")])
    policy = RouterPolicy(num_retries=0, fallbacks=(FallbackRule("gpt-x", ("gpt-y",)),))
    completions, _, _ = service(primary, backup, provider=provider, policy=policy)

    served = await completions.chat(ask("gpt-x"))

    assert served.value.choices[0].message.content == "from backup"
    assert (served.deployment.id, served.fallbacks) == ("b", 1)


async def test_a_context_window_error_takes_the_context_window_fallback() -> None:
    small, large = deployment(name="small", ident="s"), deployment(name="large", ident="l")
    provider = FakeLLMProvider(replies=[ContextWindowExceededError("too long"), reply("fits")])
    policy = RouterPolicy(num_retries=2, context_window_fallbacks=(FallbackRule("small", ("large",)),))
    completions, _, _ = service(small, large, provider=provider, policy=policy)

    served = await completions.chat(ask("small"))

    assert served.deployment.id == "l"
    assert len(provider.requests) == 2


async def test_a_request_may_ask_for_its_own_fallbacks() -> None:
    primary, other = deployment(name="gpt-x", ident="p"), deployment(name="other", ident="o")
    provider = FakeLLMProvider(replies=[InternalServerError("down"), reply("other")])
    completions, _, _ = service(primary, other, provider=provider)

    served = await completions.chat(ask("gpt-x", controls={"fallbacks": ["other"]}))

    assert served.deployment.id == "o"


async def test_a_deployment_at_its_rpm_limit_is_skipped_and_a_full_group_answers_429() -> None:
    limited = deployment(limits=Limits(rpm=2))
    completions, _, _ = service(limited)

    await completions.chat(ask())
    await completions.chat(ask())
    with pytest.raises(RateLimitError) as caught:
        await completions.chat(ask())

    assert caught.value.retry_after is not None and caught.value.retry_after > 0


async def test_a_model_alias_routes_to_its_group() -> None:
    completions, provider, _ = service(policy=RouterPolicy(model_group_alias={"fast": ModelAlias("gpt-x")}))

    await completions.chat(ask("fast"))

    assert provider.requests[0][1].model_name == "gpt-x"


async def test_an_unsupported_parameter_is_not_retried_nor_counted_against_the_deployment() -> None:
    provider = FakeLLMProvider()
    provider.cannot = frozenset({"seed"})
    state = InMemoryRouterState()
    completions, _, _ = service(provider=provider, policy=RouterPolicy(num_retries=3), state=state)

    with pytest.raises(UnsupportedParameterError):
        await completions.chat(ask(params=SamplingParams(seed=1)))

    load = (await state.snapshot(["d1"], FakeClock().now()))["d1"]
    assert (load.in_flight, load.minute_failures) == (0, 0)


class _SlowProvider(FakeLLMProvider):
    """Answers after the test says so, recording the order calls reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.order: list[str] = []

    async def complete(self, request, deployment):
        self.order.append(request.messages[0].text)
        await self.release.wait()
        return reply("done")


async def test_a_call_that_may_wait_queues_for_a_slot_by_priority_and_gets_it() -> None:
    single = deployment(limits=Limits(max_parallel_requests=1))
    provider = _SlowProvider()
    completions, _, _ = service(single, provider=provider)

    def named(text: str, **controls: object) -> CompletionRequest:
        return CompletionRequest(model="gpt-x", messages=(Message(Role.USER, text),), controls=controls)

    first = asyncio.create_task(completions.chat(named("first")))
    await asyncio.sleep(0.01)
    late = asyncio.create_task(completions.chat(named("late", timeout=5, priority=5)))
    await asyncio.sleep(0.01)
    urgent = asyncio.create_task(completions.chat(named("urgent", timeout=5, priority=0)))
    await asyncio.sleep(0.01)
    with pytest.raises(RateLimitError):
        await completions.chat(named("impatient"))
    provider.release.set()
    await asyncio.gather(first, late, urgent)

    assert provider.order == ["first", "urgent", "late"]


async def test_a_calls_own_timeout_bounds_its_upstream_call() -> None:
    completions, provider, _ = service()

    await completions.chat(ask(controls={"timeout": 7, "stream_timeout": 2}))

    limits = provider.requests[0][1].limits
    assert (limits.timeout, limits.stream_timeout) == (7.0, 2.0)


async def test_a_group_at_its_limits_falls_back_to_its_fallback_model() -> None:
    capped = deployment(name="gpt-x", ident="capped", limits=Limits(rpm=1))
    backup = deployment(name="gpt-y", ident="backup")
    policy = RouterPolicy(num_retries=0, fallbacks=(FallbackRule("gpt-x", ("gpt-y",)),))
    completions, _, _ = service(capped, backup, policy=policy)

    first = await completions.chat(ask("gpt-x"))
    second = await completions.chat(ask("gpt-x"))

    assert (first.deployment.id, second.deployment.id, second.fallbacks) == ("capped", "backup", 1)


class _CountingCounter(FakeTokenCounter):
    def __init__(self) -> None:
        self.calls = 0

    def count_messages(self, messages, model, tools=()):
        self.calls += 1
        return super().count_messages(messages, model, tools)


@pytest.mark.parametrize(
    ("policy", "tokenizer_runs"),
    [
        (RouterPolicy(strategy="usage-based-routing"), 0),
        (RouterPolicy(enable_pre_call_checks=True), 1),
        (RouterPolicy(), 0),
    ],
)
async def test_the_tokenizer_runs_only_for_the_context_window_check(policy, tokenizer_runs) -> None:
    counter = _CountingCounter()
    router = Router(state=InMemoryRouterState(), policy=policy, clock=FakeClock(), token_counter=counter)
    group = ModelCatalog(deployments=[deployment()]).group("gpt-x")

    await router.acquire(group, request=ask())

    assert counter.calls == tokenizer_runs


async def test_a_provider_that_cannot_send_the_user_field_gets_the_call_without_it() -> None:
    provider = FakeLLMProvider(replies=[reply("hi")])
    provider.cannot = frozenset({"user"})
    completions, _, _ = service(provider=provider)

    served = await completions.chat(dataclasses.replace(ask(), params=SamplingParams(user="end-user-7")))

    assert served.value.choices[0].message.content == "hi"
    assert provider.requests[0][0].params.user is None
    assert served.dropped_params == ("user",)


async def test_what_only_the_requests_own_format_can_serve_is_refused_elsewhere_by_name() -> None:
    native = NativeRequest("anthropic", {"model": "gpt-x"}, untranslated=("tools.0",))
    completions, provider, _ = service(provider=FakeLLMProvider(replies=[reply("hi")]))

    with pytest.raises(UnsupportedParameterError) as refused:
        await completions.chat(dataclasses.replace(ask(), native=native))

    assert refused.value.param == "tools.0"
    assert provider.requests == []
