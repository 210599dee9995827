"""Tracing, wired only when configured: the tracer provider as a resource, the traced providers the
completions use case calls through, and the server spans' middleware. Off, nothing of OpenTelemetry is
imported and nothing is wrapped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from adapters.config.gateway_config import GatewayConfig
from ports.call_observer import CallObserver
from ports.llm_provider import LLMProvider

if TYPE_CHECKING:
    from adapters.observability.tracing import Tracing


async def open_tracing_resource(config: GatewayConfig) -> AsyncIterator[Tracing | None]:
    """The tracer provider while the gateway runs (None when tracing is off); at shutdown the spans
    still queued are exported, for a few seconds at most."""
    if config.tracing is None:
        yield None
        return
    from adapters.observability.tracing import open_tracing

    tracing = open_tracing(config.tracing, config.environment)
    try:
        yield tracing
    finally:
        await asyncio.to_thread(tracing.close)


def traced_providers(
    providers: Mapping[str, LLMProvider], tracing: Tracing | None
) -> Mapping[str, LLMProvider]:
    if tracing is None:
        return providers
    from adapters.observability.traced_provider import TracedProviders

    return TracedProviders(providers, tracing)


def traced_provider(provider: LLMProvider, tracing: Tracing | None) -> LLMProvider:
    if tracing is None:
        return provider
    from adapters.observability.traced_provider import TracedProvider

    return TracedProvider(provider, tracing)


def span_annotator(tracing: Tracing | None) -> tuple[CallObserver, ...]:
    """What writes each call's facts onto its server span, when tracing."""
    if tracing is None:
        return ()
    from adapters.observability.server_spans import SpanAnnotator

    return (SpanAnnotator(),)


def server_span_middleware(config: GatewayConfig, tracing: Callable[[], Any]) -> list[Any]:
    """The app's middleware opening each request's server span (`tracing` hands over the running
    gateway's Tracing); none when tracing is off."""
    if config.tracing is None:
        return []
    from adapters.observability.server_spans import server_spans

    return [server_spans(tracing)]
