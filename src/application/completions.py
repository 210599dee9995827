"""The completions use case: chat, streamed chat, embeddings and moderations, routed to a deployment."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from application.caching import CachedStream, ResponseCaching, StoringStream, embeddings_from_cache, merged
from application.catalog import ModelCatalog
from application.guarded_stream import primed
from application.guardrails import CallGuard, Guardrails
from application.metered_audio import MeteredAudio
from application.metered_stream import MeteredStream
from application.metering import CallMeter, Metering
from application.routing import Router
from domain.audio import SpeechRequest, SpeechResponse, TranscriptionRequest, TranscriptionResponse
from domain.caching import replay
from domain.calls import CallRecord
from domain.compatibility import Fitted, fit_request, with_defaults
from domain.completions import CompletionRequest, CompletionResponse, Usage
from domain.deployments import Deployment, ModelGroup
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import (
    GuardrailViolationError,
    RateLimitError,
    SwitchyardError,
    UnsupportedParameterError,
)
from domain.fallbacks import fallback_models
from domain.frozen import evolve, frozen
from domain.images import ImageRequest, ImageResponse
from domain.moderation import ModerationRequest, ModerationResponse
from domain.pricing import Cost
from domain.rerank import RerankRequest, RerankResponse
from domain.retries import retry_delay
from domain.spend import ZERO, Caller
from ports.clock import Clock
from ports.llm_provider import ChunkStream, LLMProvider
from ports.telemetry import Telemetry

T = TypeVar("T")
G = TypeVar("G", CompletionRequest, EmbeddingRequest)
R = TypeVar("R", CompletionRequest, EmbeddingRequest, ModerationRequest, RerankRequest, ImageRequest)
P = TypeVar("P", CompletionResponse, EmbeddingResponse, ModerationResponse, RerankResponse, ImageResponse)
Q = TypeVar("Q", ModerationRequest, RerankRequest, ImageRequest, TranscriptionRequest)
A = TypeVar("A", ModerationResponse, RerankResponse, ImageResponse, TranscriptionResponse)


@frozen
class Served(Generic[T]):
    """A result and where it came from."""

    value: T
    deployment: Deployment
    upstream_seconds: float
    """Time spent waiting on the upstream (for a stream: until it was open)."""
    dropped_params: tuple[str, ...] = ()
    """Parameters taken out of the request because the deployment cannot honour them (drop_params)."""
    retries: int = 0
    """Attempts made before the one that answered, fallbacks included (attempts minus one)."""
    fallbacks: int = 0
    """Fallback models taken before the one that answered."""
    cost: Cost | None = None
    """What the call cost (None: unmetered, or the model has no known price); a stream's is known only
    once it has ended (`ChunkStream.cost`)."""
    cache_hit: bool = False
    """Answered from the response cache: nothing spent upstream."""
    cache_key: str | None = None
    """The call's key in the response cache, when the cache was consulted."""
    similarity: float | None = None
    """A semantic cache hit's similarity to the stored prompt."""


class Completions:
    """Each call goes to a deployment the router picks; a failure is retried (on another deployment of
    the group where there is one) as the retry policy allows, then falls back to the next model of the
    fallback plan. A stream fails over only until it is open: after its first byte an error ends it."""

    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        providers: Mapping[str, LLMProvider],
        mock: LLMProvider,
        router: Router,
        clock: Clock,
        telemetry: Telemetry,
        metering: Metering | None = None,
        caching: ResponseCaching | None = None,
        guardrails: Guardrails | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._catalog = catalog
        self._metering = metering
        self._caching = caching
        self._guardrails = guardrails
        self._providers = providers
        self._mock = mock
        self._router = router
        self._clock = clock
        self._telemetry = telemetry
        self._rng = rng or random.Random()
        self._sleep = sleep

    async def chat(
        self,
        request: CompletionRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "chat",
    ) -> Served[CompletionResponse]:
        """The reply, with its cost (`reply.cost`); the call is recorded in the spend journal, answered
        or failed, before this returns. `caller` is whom the ledger charges it to."""

        async def attempt(deployment: Deployment, asked: CompletionRequest) -> Served[CompletionResponse]:
            provider, fitted = self._fit(asked, deployment)
            served = await self._call(
                call_id, "chat", deployment, lambda: provider.complete(fitted.request, deployment), _usage_of
            )
            usage = served.value.usage
            await self._router.succeeded(
                deployment, tokens=usage.total_tokens if usage else 0, latency=served.upstream_seconds
            )
            return evolve(served, dropped_params=fitted.dropped) if fitted.dropped else served

        meter = self._start(call_id, call_type, request, caller)
        guard, request = await self._guarded(meter, request, caller)
        caching = self._caching if guard is None or not guard.watches_reply else None
        lookup = (
            await caching.lookup_chat(request, caller, self._embed_prompt) if caching is not None else None
        )
        if lookup is not None and lookup.hit is not None:
            hit = lookup.hit
            served = await self._from_cache(meter, request, lookup.key, hit.deployment_id, hit.response)
            return served if lookup.similarity is None else evolve(served, similarity=lookup.similarity)
        served = await self._metered_failover(meter, request, attempt, guard)
        upstream_reply = served.value
        if guard is not None and guard.watches_reply:
            served = await self._after(meter, guard, served, request)
        priced = await self._priced(meter, served, upstream_reply.usage, upstream_reply)
        if caching is None or lookup is None:
            return priced
        caching.store_chat(lookup, upstream_reply, served.deployment.id)
        return evolve(priced, cache_key=lookup.key)

    async def stream(
        self,
        request: CompletionRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "stream",
    ) -> Served[ChunkStream]:
        """The open stream; its cost and spend record follow once it ends (`stream.cost`)."""
        meter = self._start(call_id, call_type, request, caller)
        guard, request = await self._guarded(meter, request, caller)
        asked_request = request

        async def attempt(deployment: Deployment, asked: CompletionRequest) -> Served[ChunkStream]:
            provider, fitted = self._fit(asked, deployment)
            served = await self._call(
                call_id, "stream", deployment, lambda: provider.stream(fitted.request, deployment), None
            )
            opened = served.value if guard is None else guard.stream(served.value, asked_request)
            metered = MeteredStream(
                opened, self, call_id, deployment, self._clock.monotonic(), request.include_usage,
                opened_in=served.upstream_seconds, meter=meter,
            )  # fmt: skip
            return Served(metered, deployment, served.upstream_seconds, fitted.dropped)

        caching = self._caching if guard is None or not guard.watches_reply else None
        lookup = (
            await caching.lookup_chat(request, caller, self._embed_prompt) if caching is not None else None
        )
        if lookup is not None and lookup.hit is not None:
            hit = lookup.hit
            replayed = CachedStream(replay(hit.response, request.include_usage))
            served = await self._from_cache(meter, request, lookup.key, hit.deployment_id, replayed)
            return served if lookup.similarity is None else evolve(served, similarity=lookup.similarity)
        served = await self._metered_failover(meter, request, attempt, guard)
        if isinstance(served.value, MeteredStream):
            served.value.routed(served.retries, served.fallbacks)
        if guard is not None and guard.watches_reply:
            # The reply is judged before the caller gets a byte of it: a block in its first part (all of
            # it, for a guardrail that reads streams whole) is an error answer, not a broken stream.
            served = dataclasses.replace(served, value=await primed(served.value))
        if caching is None or lookup is None:
            return served
        if not lookup.storable:
            return evolve(served, cache_key=lookup.key)
        deployment_id = served.deployment.id
        storing = StoringStream(served.value, lambda reply: caching.store_chat(lookup, reply, deployment_id))
        return evolve(served, value=storing, cache_key=lookup.key)

    async def embed(
        self,
        request: EmbeddingRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "embeddings",
    ) -> Served[EmbeddingResponse]:
        async def attempt(deployment: Deployment, asked: EmbeddingRequest) -> Served[EmbeddingResponse]:
            provider = self._mock if asked.mock_response is not None else self._provider(deployment)
            served = await self._call(
                call_id,
                "embeddings",
                deployment,
                lambda: provider.embed(asked, deployment),
                lambda r: r.usage,
            )
            await self._router.succeeded(
                deployment, tokens=served.value.usage.total_tokens, latency=served.upstream_seconds
            )
            return served

        meter = self._start(call_id, call_type, request, caller)
        guard, request = await self._guarded(meter, request, caller)
        caching = self._caching
        lookup = await caching.lookup_embeddings(request, caller) if caching is not None else None
        if lookup is None:
            served = await self._metered_failover(meter, request, attempt, guard)
            return await self._priced(meter, served, served.value.usage)
        key = lookup.keys[0] if len(lookup.keys) == 1 else None
        if lookup.complete:
            found = [entry for entry in lookup.found if entry is not None]
            deployment_id = found[0].deployment_id
            return await self._from_cache(
                meter, request, key, deployment_id, embeddings_from_cache(request, found)
            )
        # Only the inputs the cache did not have go upstream; the answer is put together in order.
        missing = [position for position, entry in enumerate(lookup.found) if entry is None]
        asked = request
        if len(missing) < len(request.inputs):
            asked = dataclasses.replace(request, inputs=tuple(request.inputs[i] for i in missing))  # type: ignore[arg-type]
        served = await self._metered_failover(meter, asked, attempt, guard)
        priced = await self._priced(meter, served, served.value.usage)
        fetched = sorted(priced.value.data, key=lambda item: item.index)
        caching.store_embeddings(lookup, fetched, missing, served.deployment.id)
        if asked is not request:
            priced = dataclasses.replace(
                priced, value=dataclasses.replace(priced.value, data=merged(lookup, fetched, missing))
            )
        return dataclasses.replace(priced, cache_key=key)

    async def moderate(
        self,
        request: ModerationRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "moderation",
    ) -> Served[ModerationResponse]:
        """Each input's verdict from a deployment that moderates (never cached: a verdict is cheap, and
        policies change)."""
        return await self._uncached(
            request, call_id, caller, call_type, lambda provider, d: provider.moderate(request, d)
        )

    async def rerank(
        self,
        request: RerankRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "rerank",
    ) -> Served[RerankResponse]:
        """The documents ranked by a deployment that reranks, priced per search unit."""
        return await self._uncached(
            request, call_id, caller, call_type, lambda provider, d: provider.rerank(request, d)
        )

    async def generate_images(
        self,
        request: ImageRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "image_generation",
    ) -> Served[ImageResponse]:
        """Images made by a deployment that generates them, priced per image (never cached: each call
        asks for new pictures)."""
        return await self._uncached(
            request, call_id, caller, call_type, lambda provider, d: provider.generate_images(request, d)
        )

    async def transcribe(
        self,
        request: TranscriptionRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "audio_transcription",
    ) -> Served[TranscriptionResponse]:
        """A recording's text from a deployment that transcribes, priced per second of audio."""
        return await self._uncached(
            request, call_id, caller, call_type, lambda provider, d: provider.transcribe(request, d)
        )

    async def speak(
        self,
        request: SpeechRequest,
        *,
        call_id: str = "",
        caller: Caller | None = None,
        call_type: str = "audio_speech",
    ) -> Served[SpeechResponse]:
        """The input spoken by a deployment that speaks, its audio streamed. Its price, per character,
        is known once the upstream accepts the call; the call is recorded and metered when the audio
        ends, however it ends (see MeteredAudio)."""
        meter = self._start(call_id, call_type, request, caller)

        async def attempt(deployment: Deployment, asked: SpeechRequest) -> Served[SpeechResponse]:
            provider = self._provider(deployment)
            started = self._clock.monotonic()
            served = await self._call(
                call_id, call_type, deployment, lambda: provider.speak(asked, deployment), None
            )
            speech = served.value
            audio = MeteredAudio(
                speech.audio, self, call_id=call_id, call_type=call_type, deployment=deployment,
                started=started, opened_in=served.upstream_seconds, usage=speech.usage, meter=meter,
            )  # fmt: skip
            return dataclasses.replace(served, value=dataclasses.replace(speech, audio=audio))

        served = await self._metered_failover(meter, request, attempt)
        speech = served.value
        assert isinstance(speech.audio, MeteredAudio)
        speech.audio.routed(served.retries, served.fallbacks)
        if self._metering is None:
            return served
        try:
            cost = await self._metering.cost(served.deployment, speech.usage)
        except BaseException:
            await speech.audio.aclose()  # no one will hear it: the upstream's reply is let go now
            raise
        priced = dataclasses.replace(speech, cost=cost.total if cost is not None else None)
        return dataclasses.replace(served, value=priced, cost=cost)

    async def _uncached(
        self,
        request: Q,
        call_id: str,
        caller: Caller | None,
        call_type: str,
        invoke: Callable[[LLMProvider, Deployment], Awaitable[A]],
    ) -> Served[A]:
        """A call routed, retried, fallen back, metered and recorded like any other, with no cache."""

        async def attempt(deployment: Deployment, asked: Q) -> Served[A]:
            provider = self._provider(deployment)
            served = await self._call(
                call_id, call_type, deployment, lambda: invoke(provider, deployment), _usage_of
            )
            usage = served.value.usage
            await self._router.succeeded(
                deployment, tokens=usage.total_tokens, latency=served.upstream_seconds
            )
            return served

        meter = self._start(call_id, call_type, request, caller)
        served = await self._metered_failover(meter, request, attempt)
        return await self._priced(meter, served, served.value.usage)

    async def _from_cache(
        self, meter: CallMeter | None, request: R, key: str | None, deployment_id: str | None, value: T
    ) -> Served[T]:
        """A call answered from the cache: recorded as a hit that cost nothing."""
        deployment = self._cached_deployment(request.model, deployment_id)
        if meter is not None and self._metering is not None:
            await self._metering.cached(meter, deployment)
        if isinstance(value, CompletionResponse | EmbeddingResponse):
            value = evolve(value, cost=ZERO)  # type: ignore[assignment]
        return Served(value, deployment, 0.0, cost=Cost(), cache_hit=True, cache_key=key)

    def _cached_deployment(self, model: str, deployment_id: str | None) -> Deployment:
        """The deployment a cached answer is credited to: the one that gave it, while it still serves the
        group, else the group's first."""
        group = self._catalog.group(self._router.policy.resolve_alias(model))
        return next((d for d in group.deployments if d.id == deployment_id), group.deployments[0])

    async def _embed_prompt(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """A semantic cache's embedding of a prompt, through the gateway like any call."""
        return (await self.embed(request, call_id=str(uuid.uuid4()), call_type="cache.embedding")).value

    async def refused(
        self, request: R, error: SwitchyardError, *, call_id: str, caller: Caller | None, call_type: str
    ) -> None:
        """Records a call refused before it was routed (a model the caller may not use, a spent budget,
        a rate limit): a failed call like any other, in the ledger."""
        meter = self._start(call_id, call_type, request, caller)
        if meter is not None and self._metering is not None:
            await self._metering.failed(meter, error)

    def _start(self, call_id: str, call_type: str, request: R, caller: Caller | None) -> CallMeter | None:
        if self._metering is None:
            return None
        return self._metering.start(call_id, call_type, request, caller)

    async def _priced(
        self,
        meter: CallMeter | None,
        served: Served[P],
        usage: Usage | None,
        reply: CompletionResponse | None = None,
    ) -> Served[P]:
        """The answered call recorded, and its reply carrying its cost."""
        if meter is None or self._metering is None:
            return served
        metered = await self._metering.succeeded(
            meter,
            served.deployment,
            usage,
            reply=reply,
            retries=served.retries,
            fallbacks=served.fallbacks,
            upstream_seconds=served.upstream_seconds,
        )
        priced = evolve(served.value, cost=metered.total)
        return evolve(served, value=priced, cost=metered.cost)

    async def _guarded(
        self, meter: CallMeter | None, request: G, caller: Caller | None
    ) -> tuple[CallGuard | None, G]:
        """The call's guardrails (None: none run), known to its meter, and the request as the pre_call
        ones let it go (masked, say), which is also what the ledger keeps of it. A request naming a
        guardrail that is not configured, or one a guardrail blocks, is recorded and raised."""
        if self._guardrails is None:
            return None, request
        try:
            guard = self._guardrails.plan(request, caller)
            if guard is None:
                return None, request
            if meter is not None:
                meter.guard = guard
            asked = await guard.before(request)
        except SwitchyardError as exc:
            if meter is not None and self._metering is not None:
                await self._metering.failed(meter, exc)
            raise
        if meter is not None:
            meter.request = asked
        return guard, asked  # type: ignore[return-value]

    async def _after(
        self,
        meter: CallMeter | None,
        guard: CallGuard,
        served: Served[CompletionResponse],
        request: CompletionRequest,
    ) -> Served[CompletionResponse]:
        """The reply as the post_call guardrails let it go; a block is recorded (with what the upstream
        spent) and raised."""
        try:
            reply = await guard.after(served.value, request)
        except SwitchyardError as exc:
            if meter is not None and self._metering is not None:
                usage, upstream = served.value.usage, served.upstream_seconds
                await self._metering.failed(meter, exc, served.deployment, usage, upstream_seconds=upstream)
            raise
        return evolve(served, value=reply)

    async def _metered_failover(
        self,
        meter: CallMeter | None,
        request: R,
        attempt: Callable[[Deployment, R], Awaitable[Served[T]]],
        guard: CallGuard | None = None,
    ) -> Served[T]:
        """`_failover` (beside the during_call guardrails, when there are any), recording a call that
        fails altogether: one a during_call guardrail blocked after its answer came, with what it spent."""
        discarded: list[Served[T]] = []

        async def discard(served: Served[T]) -> None:
            discarded.append(served)
            await _discard(served)

        try:
            call = self._failover(request, attempt)
            if guard is None:
                return await call
            return await guard.beside(request, call, discard)
        except SwitchyardError as exc:
            if meter is not None and self._metering is not None:
                if discarded:
                    spent = discarded[0]
                    usage = getattr(spent.value, "usage", None)
                    await self._metering.failed(
                        meter, exc, spent.deployment, usage, upstream_seconds=spent.upstream_seconds
                    )
                else:
                    await self._metering.failed(meter, exc)
            raise

    async def _failover(
        self, request: R, attempt: Callable[[Deployment, R], Awaitable[Served[T]]]
    ) -> Served[T]:
        policy = self._router.policy
        if "num_retries" in request.controls:
            policy = dataclasses.replace(policy, num_retries=int(request.controls["num_retries"]))
        model = policy.resolve_alias(request.model)
        tried: list[str] = []
        attempts = 0
        elsewhere_seconds = 0.0  # failed attempts and waits: upstream time, not the gateway's overhead
        priority = request.controls.get("priority")
        while True:
            group = self._catalog.group(model)
            candidates = _candidates(group, request)
            wait_until = self._queue_deadline(request, candidates)
            asked = request if model == request.model else dataclasses.replace(request, model=model)
            avoid: list[str] = []
            failure: SwitchyardError | None = None
            for number in itertools.count(1):
                try:
                    deployment = await self._router.acquire(
                        group, request=asked if isinstance(asked, CompletionRequest) else None,
                        candidates=candidates, avoid=avoid, priority=priority, wait_until=wait_until,
                    )  # fmt: skip
                except RateLimitError as exc:
                    # The whole group is at its limits: on to the fallbacks, keeping an upstream
                    # failure that came first as the answer should they fail too.
                    failure = failure or exc
                    break
                deployment = _with_request_timeouts(deployment, request)
                attempts += 1
                started = self._clock.monotonic()
                try:
                    served = await attempt(deployment, asked)
                except SwitchyardError as exc:
                    failure = exc
                    if _caller_at_fault(exc):
                        await self._router.released(deployment)
                        raise
                    await self._router.failed(deployment, exc, latency=self._clock.monotonic() - started)
                    others = any(d.id != deployment.id and d.id not in avoid for d in candidates)
                    delay = retry_delay(exc, number, policy, self._rng, elsewhere=others)
                    elsewhere_seconds += self._clock.monotonic() - started + (delay or 0.0)
                    if delay is None:
                        break
                    avoid.append(deployment.id)
                    await self._sleep(delay)
                    continue
                except BaseException:
                    await self._router.released(deployment)
                    raise
                return evolve(
                    served,
                    retries=attempts - 1,
                    fallbacks=len(tried),
                    upstream_seconds=served.upstream_seconds + elsewhere_seconds,
                )
            assert failure is not None
            plan = fallback_models(
                model, failure, policy, request.controls.get("fallbacks"), tried=[*tried, request.model]
            )
            if not plan or len(tried) >= policy.max_fallbacks:
                raise failure
            tried.append(model)
            model = plan[0]

    def _queue_deadline(
        self,
        request: CompletionRequest | EmbeddingRequest | ModerationRequest | RerankRequest | ImageRequest,
        group: list[Deployment],
    ) -> float | None:
        """How long a call may wait for a slot when its group is at its limits: a call that names a
        `timeout` or a `priority` waits (up to that timeout, else its deployments' own); others do not."""
        timeout = request.controls.get("timeout")
        if timeout is None and request.controls.get("priority") is None:
            return None
        if timeout is None:
            timeout = max(d.limits.timeout for d in group)
        return self._clock.monotonic() + float(timeout)

    def _fit(self, request: CompletionRequest, deployment: Deployment) -> tuple[LLMProvider, Fitted]:
        """The provider to call and the request fitted to it."""
        provider = self._mock if request.mock_response is not None else self._provider(deployment)
        try:
            # What the provider cannot take is judged on the request as it will be sent: defaults in.
            request = with_defaults(request, deployment)
            unsupported = provider.unsupported_params(request, deployment)
            native = request.native
            foreign = native is not None and not provider.speaks(native.format, deployment)
            if foreign and native.untranslated:
                # Server tools and the like: only a deployment of the request's own format serves them.
                unsupported = [*unsupported, *native.untranslated]
            fitted = fit_request(request, deployment, unsupported=unsupported, provider=provider.name)
            if foreign and native.left_out:
                fitted = dataclasses.replace(fitted, dropped=(*native.left_out, *fitted.dropped))
        except SwitchyardError as exc:
            exc.at(provider=deployment.provider, model=request.model, deployment=deployment.id)
            raise
        if fitted.request.mock_response is not None and provider is not self._mock:
            return self._mock, fitted  # the deployment's configured mock_response
        return provider, fitted

    def _provider(self, deployment: Deployment) -> LLMProvider:
        provider = self._providers.get(deployment.id)
        if provider is None:  # the composition root wires one for every deployment
            raise UnsupportedParameterError(
                f"no provider serves deployment {deployment.id}", param="model", deployment=deployment.id
            )
        return provider

    async def _call(
        self,
        call_id: str,
        kind: str,
        deployment: Deployment,
        invoke: Callable[[], Awaitable[T]],
        usage_of: Callable[[T], Usage | None] | None,
    ) -> Served[T]:
        started = self._clock.monotonic()
        try:
            value = await invoke()
        except SwitchyardError as exc:
            exc.at(provider=deployment.provider, model=deployment.model_name, deployment=deployment.id)
            self.record(call_id, kind, deployment, started, None, exc)
            raise
        elapsed = self._clock.monotonic() - started
        if usage_of is not None:
            self.record(call_id, kind, deployment, started, usage_of(value), None)
        return Served(value, deployment, elapsed)

    def record(
        self,
        call_id: str,
        kind: str,
        deployment: Deployment,
        started: float,
        usage: Usage | None,
        error: SwitchyardError | None,
    ) -> None:
        self._telemetry.record_call(
            CallRecord(
                call_id=call_id,
                model=deployment.model_name,
                deployment_id=deployment.id,
                provider=deployment.provider,
                kind=kind,
                started_at=started,
                duration=self._clock.monotonic() - started,
                usage=usage,
                error=error,
            )
        )

    @property
    def metering(self) -> Metering | None:
        return self._metering

    @property
    def clock(self) -> Clock:
        return self._clock

    def elapsed_since(self, started: float) -> float:
        return self._clock.monotonic() - started

    async def stream_ended(
        self,
        deployment: Deployment,
        started: float,
        usage: Usage | None,
        error: SwitchyardError | None,
        first_token: float | None = None,
    ) -> None:
        latency = self._clock.monotonic() - started
        if error is None or isinstance(error, GuardrailViolationError):  # the deployment answered well
            tokens = usage.total_tokens if usage else 0
            await self._router.succeeded(deployment, tokens=tokens, latency=latency, first_token=first_token)
        else:
            await self._router.failed(deployment, error, latency=latency)


_CAPABILITY = {
    "moderations": "moderation",
    "rerank": "rerank",
    "images": "images",
    "audio transcriptions": "transcription",
    "speech": "speech",
}


_SERVICE = {
    ModerationRequest: "moderations",
    RerankRequest: "rerank",
    ImageRequest: "images",
    TranscriptionRequest: "audio transcriptions",
    SpeechRequest: "speech",
}


def _candidates(group: ModelGroup, request: object) -> list[Deployment]:
    if isinstance(request, EmbeddingRequest):
        serving = [d for d in group.deployments if d.capabilities.embeddings]
        return serving or list(group.deployments)
    if isinstance(request, tuple(_SERVICE)):
        # Only deployments that can: a model with none refuses the call, naming the model.
        what = _SERVICE[type(request)]
        serving = [d for d in group.deployments if getattr(d.capabilities, _CAPABILITY[what])]
        if not serving:
            raise UnsupportedParameterError(
                f"model {group.name} has no deployment that serves {what}", param="model"
            )
        return serving
    return list(group.deployments)


def _with_request_timeouts(
    deployment: Deployment,
    request: CompletionRequest | EmbeddingRequest | ModerationRequest | RerankRequest | ImageRequest,
) -> Deployment:
    """The deployment with the call's own `timeout` / `stream_timeout`, where the call sets them."""
    changes = {
        name: float(request.controls[name])
        for name in ("timeout", "stream_timeout")
        if name in request.controls
    }
    if not changes:
        return deployment
    return dataclasses.replace(deployment, limits=dataclasses.replace(deployment.limits, **changes))


def _caller_at_fault(error: SwitchyardError) -> bool:
    """A request the deployment was never asked (a parameter it cannot take): its slot is given back,
    and nothing is retried, cooled down or fallen back to."""
    return isinstance(error, UnsupportedParameterError)


async def _discard(served: Served[object]) -> None:
    """Lets go of an answer no one will get (a stream's upstream is closed, unrecorded: the call is
    recorded as the failure it became)."""
    if isinstance(served.value, MeteredStream):
        await served.value.discard()
    elif isinstance(served.value, ChunkStream):
        await served.value.aclose()


def _usage_of(
    response: CompletionResponse | ModerationResponse | RerankResponse | ImageResponse,
) -> Usage | None:
    return response.usage
