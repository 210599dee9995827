"""Serving the stored deployments keeps the adapters of upstreams that did not change."""

from __future__ import annotations

import httpx

from adapters.llm.mock.client import MockProvider
from application.catalog import ModelCatalog
from bootstrap.secrets import load_gateway_config
from bootstrap.upstreams import LiveDeployments, upstream_key, wire_providers


async def test_the_first_serving_keeps_the_adapters_wired_at_start() -> None:
    config = load_gateway_config(
        {
            "model_list": [
                {"model_name": "m", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "k"}}
            ]
        },
        {},
    )
    deployments = list(config.deployments)
    async with httpx.AsyncClient() as client:
        clients = {upstream_key(d): client for d in deployments}
        mock = MockProvider(token_counter=None)  # type: ignore[arg-type]  # never called here
        providers = wire_providers(deployments, clients, mock)
        at_start = dict(providers)
        live = LiveDeployments(
            catalog=ModelCatalog(deployments=deployments), providers=providers, clients=clients, mock=mock,
            client_factory=httpx.AsyncClient,
        )  # fmt: skip

        live.activate(deployments)

    assert providers.keys() == at_start.keys()
    assert all(providers[key] is adapter for key, adapter in at_start.items())
