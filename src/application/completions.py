"""The completions use case: chat, streamed chat and embeddings, routed to a deployment."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from application.catalog import ModelCatalog
from domain.calls import CallRecord
from domain.compatibility import Fitted, fit_request
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, Usage
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import SwitchyardError, UnsupportedParameterError
from domain.routing import weighted_choice
from ports.clock import Clock
from ports.llm_provider import ChunkStream, LLMProvider
from ports.telemetry import Telemetry

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Served(Generic[T]):
    """A result and where it came from."""

    value: T
    deployment: Deployment
    upstream_seconds: float
    """Time spent waiting on the upstream (for a stream: until it was open)."""
    dropped_params: tuple[str, ...] = ()
    """Parameters taken out of the request because the deployment cannot honour them (drop_params)."""


class Completions:
    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        providers: Mapping[str, LLMProvider],
        mock: LLMProvider,
        clock: Clock,
        telemetry: Telemetry,
        rng: random.Random | None = None,
    ) -> None:
        self._catalog = catalog
        self._providers = providers
        self._mock = mock
        self._clock = clock
        self._telemetry = telemetry
        self._rng = rng or random.Random()

    async def chat(self, request: CompletionRequest, *, call_id: str = "") -> Served[CompletionResponse]:
        deployment = self._route(request.model)
        provider, fitted = self._fit(request, deployment)
        served = await self._call(
            call_id, "chat", deployment, lambda: provider.complete(fitted.request, deployment), _usage_of
        )
        return dataclasses.replace(served, dropped_params=fitted.dropped) if fitted.dropped else served

    async def stream(self, request: CompletionRequest, *, call_id: str = "") -> Served[ChunkStream]:
        deployment = self._route(request.model)
        provider, fitted = self._fit(request, deployment)
        served = await self._call(
            call_id, "stream", deployment, lambda: provider.stream(fitted.request, deployment), None
        )
        metered = _MeteredStream(
            served.value, self, call_id, deployment, self._clock.monotonic(), request.include_usage
        )
        return Served(metered, deployment, served.upstream_seconds, fitted.dropped)

    async def embed(self, request: EmbeddingRequest, *, call_id: str = "") -> Served[EmbeddingResponse]:
        group = self._catalog.group(request.model)
        candidates = [d for d in group.deployments if d.capabilities.embeddings] or list(group.deployments)
        deployment = weighted_choice(candidates, self._rng)
        provider = self._mock if request.mock_response is not None else self._provider(deployment)
        return await self._call(
            call_id, "embeddings", deployment, lambda: provider.embed(request, deployment), lambda r: r.usage
        )

    def _route(self, model: str) -> Deployment:
        return weighted_choice(self._catalog.group(model).deployments, self._rng)

    def _fit(self, request: CompletionRequest, deployment: Deployment) -> tuple[LLMProvider, Fitted]:
        """The provider to call and the request fitted to it."""
        provider = self._mock if request.mock_response is not None else self._provider(deployment)
        try:
            unsupported = provider.unsupported_params(request, deployment)
            fitted = fit_request(request, deployment, unsupported=unsupported, provider=provider.name)
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


def _usage_of(response: CompletionResponse) -> Usage | None:
    return response.usage


class _MeteredStream(ChunkStream):
    """Passes chunks through and records the call once the stream ends, however it ends. Usage is
    always metered, but shown to the caller only when asked for (`stream_options.include_usage`)."""

    def __init__(
        self,
        inner: ChunkStream,
        owner: Completions,
        call_id: str,
        deployment: Deployment,
        started: float,
        include_usage: bool,
    ) -> None:
        self._inner = inner
        self._include_usage = include_usage
        self._owner = owner
        self._call_id = call_id
        self._deployment = deployment
        self._started = started
        self._usage: Usage | None = None
        self._recorded = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        error: SwitchyardError | None = None
        try:
            async for batch in self._inner.batches():
                shown = [seen for chunk in batch if (seen := self._meter(chunk)) is not None]
                if shown:
                    yield shown
        except SwitchyardError as exc:
            deployment = self._deployment
            error = exc.at(
                provider=deployment.provider, model=deployment.model_name, deployment=deployment.id
            )
            raise
        finally:
            self._finish(error)

    def _meter(self, chunk: CompletionChunk) -> CompletionChunk | None:
        """The chunk as the caller sees it (None: not at all), its usage noted."""
        if chunk.usage is None:
            return chunk
        self._usage = chunk.usage
        if self._include_usage:
            return chunk
        return dataclasses.replace(chunk, usage=None) if chunk.choices else None

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._finish(None)

    def _finish(self, error: SwitchyardError | None) -> None:
        if not self._recorded:
            self._recorded = True
            self._owner.record(self._call_id, "stream", self._deployment, self._started, self._usage, error)
