"""The upstream side of the composition root: which adapter serves each provider, one pooled client and
one adapter per upstream, and the served set swapped live when stored deployments change."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping

import httpx

from adapters.llm.hosts import HOSTS
from adapters.llm.httptools_transport import HttptoolsTransport
from adapters.llm.mock.client import MockProvider
from adapters.llm.model_routes import adapter_target
from adapters.llm.upstream_client import UpstreamClient
from application.catalog import ModelCatalog
from domain.deployments import Deployment
from ports.llm_provider import LLMProvider

# Provider prefix -> the adapter that speaks its wire format ("module:class"). Adapters are imported when
# a configured deployment needs one, so start-up pays only for the providers in the config. Adding a
# provider family is a row here; an OpenAI-compatible host is a row of the hosts table.
_OPENAI = "adapters.llm.openai.client:OpenAIProvider"
ADAPTERS: dict[str, str] = {
    **{name: _OPENAI for name, host in HOSTS.items() if host.openai_compatible},
    "azure": "adapters.llm.azure.client:AzureOpenAIProvider",
    "azure_ai": "adapters.llm.azure.client:AzureAIProvider",
    "cohere": "adapters.llm.cohere.client:CohereProvider",
    "huggingface": "adapters.llm.huggingface.client:HuggingFaceProvider",
    "voyage": "adapters.llm.voyage.client:VoyageProvider",
    "jina_ai": "adapters.llm.jina.client:JinaProvider",
    "cloudflare": "adapters.llm.cloudflare.client:CloudflareProvider",
    "snowflake": "adapters.llm.snowflake.client:SnowflakeProvider",
    "deepgram": "adapters.llm.deepgram.client:DeepgramProvider",
    "watsonx": "adapters.llm.watsonx.client:WatsonxProvider",
    "sagemaker": "adapters.llm.sagemaker.client:SageMakerProvider",
    "sagemaker_chat": "adapters.llm.sagemaker.client:SageMakerChatProvider",
    "databricks": "adapters.llm.databricks.client:DatabricksProvider",
    "ollama": "adapters.llm.ollama.client:OllamaProvider",
    "ollama_chat": "adapters.llm.ollama.client:OllamaProvider",
    "anthropic": "adapters.llm.anthropic.client:AnthropicProvider",
    "bedrock": "adapters.llm.bedrock.client:BedrockProvider",
    "gemini": "adapters.llm.gemini.client:GeminiProvider",
    "vertex_ai": "adapters.llm.gemini.client:VertexProvider",
}


@functools.cache
def adapter_for(provider: str) -> type[LLMProvider] | None:
    """The adapter class serving `provider`, imported on first use; None for a provider without one."""
    if provider == "mock":
        return MockProvider
    target = ADAPTERS.get(provider)
    return None if target is None else _imported(target)


def adapter_of(deployment: Deployment) -> type[LLMProvider] | None:
    """The adapter class serving the deployment: its provider's, unless its model speaks another wire
    format (Claude on Vertex AI or through Bedrock's InvokeModel, Vertex's OpenAI-format partner models;
    see adapters/llm/model_routes.py)."""
    target = adapter_target(deployment.provider, deployment.upstream_model)
    return adapter_for(deployment.provider) if target is None else _imported(target)


@functools.cache
def _imported(target: str) -> type[LLMProvider]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def upstream_key(deployment: Deployment) -> tuple[type[LLMProvider], str]:
    """Deployments that share an adapter and a base URL share one pooled client and one adapter."""
    adapter = adapter_of(deployment)
    assert adapter is not None, deployment.provider
    return adapter, (deployment.api_base or "").rstrip("/")


def served_deployments(deployments: Iterable[Deployment]) -> tuple[Deployment, ...]:
    """The configured deployments, each one's capabilities limited to what its adapter can carry, so that
    the catalog shows and the application enforces what will really work."""
    served = []
    for deployment in deployments:
        adapter = adapter_of(deployment)
        if adapter is not None:
            capabilities = deployment.capabilities.limited_to(adapter.capabilities())
            deployment = dataclasses.replace(deployment, capabilities=capabilities)
        served.append(deployment)
    return tuple(served)


def new_upstream_client() -> httpx.AsyncClient:
    """A pooled client for one upstream, over Switchyard's own HTTP/1.1 transport on httptools; with
    `SWITCHYARD_UPSTREAM_TRANSPORT=aiohttp` (read here, at call time) over aiohttp's, the transport before
    it (imported only then). Timeouts are set per call from each deployment's limits; the pool stays
    warm between calls."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256, keepalive_expiry=30.0)
    transport: httpx.AsyncBaseTransport
    if os.environ.get("SWITCHYARD_UPSTREAM_TRANSPORT") == "aiohttp":
        from adapters.llm.aiohttp_transport import AiohttpTransport

        transport = AiohttpTransport(limits)
    else:
        transport = HttptoolsTransport(limits)
    return UpstreamClient(
        transport=transport,
        timeout=httpx.Timeout(600.0, connect=10.0),
        follow_redirects=False,
    )


async def open_upstream_clients(
    deployments: Iterable[Deployment],
    client_factory: Callable[[], httpx.AsyncClient] = new_upstream_client,
) -> AsyncIterator[dict[tuple[type[LLMProvider], str], httpx.AsyncClient]]:
    clients = {upstream_key(d): client_factory() for d in deployments if d.provider in ADAPTERS}
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


def wire_providers(
    deployments: Iterable[Deployment],
    clients: Mapping[tuple[type[LLMProvider], str], httpx.AsyncClient],
    mock: LLMProvider,
    by_upstream: dict[tuple[type[LLMProvider], str], LLMProvider] | None = None,
) -> dict[str, LLMProvider]:
    """One provider adapter per upstream (kept in `by_upstream` when given, to be reused); the mapping
    is keyed by deployment id."""
    by_upstream = {} if by_upstream is None else by_upstream
    wired: dict[str, LLMProvider] = {}
    for deployment in deployments:
        if deployment.provider == "mock":
            wired[deployment.id] = mock
        elif deployment.provider in ADAPTERS:
            key = upstream_key(deployment)
            if key not in by_upstream:
                by_upstream[key] = key[0](clients[key])
            wired[deployment.id] = by_upstream[key]
    return wired


class LiveDeployments:
    """The served deployments, swapped at once when stored ones change: each new upstream gets its
    pooled client and adapter, and the catalog the whole new set."""

    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        providers: dict[str, LLMProvider],
        clients: dict[tuple[type[LLMProvider], str], httpx.AsyncClient],
        mock: LLMProvider,
        client_factory: Callable[[], httpx.AsyncClient],
    ) -> None:
        self._catalog = catalog
        self._providers = providers
        self._clients = clients
        self._mock = mock
        self._client_factory = client_factory
        # The adapters wired at start, by upstream: kept when the stored deployments are first served, as
        # any adapter of an unchanged upstream is (a new one would start with empty token caches, say).
        self._adapters: dict[tuple[type[LLMProvider], str], LLMProvider] = {
            upstream_key(d): providers[d.id]
            for d in catalog.deployments()
            if d.provider in ADAPTERS and d.id in providers
        }

    def activate(self, deployments: Iterable[Deployment]) -> None:
        served = served_deployments(deployments)
        for deployment in served:
            if deployment.provider in ADAPTERS and upstream_key(deployment) not in self._clients:
                self._clients[upstream_key(deployment)] = self._client_factory()
        # Adapters of unchanged upstreams are kept; the mapping is updated in place, so every use case
        # holding it sees the new deployments.
        wired = wire_providers(served, self._clients, self._mock, self._adapters)
        self._providers.update(wired)
        self._catalog.replace(served)
        for stale in set(self._providers) - set(wired):
            del self._providers[stale]
