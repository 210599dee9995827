"""The composition root's wiring tables."""

from __future__ import annotations

import asyncio

import pytest
from litestar.testing import AsyncTestClient

from adapters.config import load_config
from adapters.config.providers import PROVIDERS
from adapters.persistence.deferred import DeferredStore
from bootstrap import ADAPTERS, adapter_for, build_container, create_http_app, served_deployments
from domain.deployments import Capabilities, Deployment
from ports.llm_provider import LLMProvider


@pytest.mark.parametrize("provider", sorted(ADAPTERS))
def test_every_provider_row_names_an_adapter_that_exists(provider: str) -> None:
    adapter = adapter_for(provider)

    assert adapter is not None and issubclass(adapter, LLMProvider)


def test_every_provider_the_config_accepts_has_an_adapter() -> None:
    assert all(adapter_for(provider) is not None for provider in PROVIDERS)


def test_a_provider_without_an_adapter_has_none() -> None:
    assert adapter_for("nonexistent") is None


def test_a_deployment_promises_only_what_its_adapter_can_carry() -> None:
    wanted = Capabilities(chat=True, embeddings=True, tools=True)
    anthropic = Deployment(
        id="d", model_name="m", provider="anthropic", upstream_model="claude", capabilities=wanted
    )

    (served,) = served_deployments([anthropic])

    assert (served.capabilities.tools, served.capabilities.embeddings) == (True, False)


async def test_the_server_runs_background_health_checks_that_cool_down_a_failing_deployment() -> None:
    config = load_config(
        {
            "model_list": [
                {"model_name": "ok", "litellm_params": {"model": "mock/ok"}, "model_info": {"id": "ok"}},
                {
                    "model_name": "down",
                    "litellm_params": {
                        "model": "mock/down",
                        "mock_response": "litellm.ServiceUnavailableError",
                    },
                    "model_info": {"id": "down"},
                },
            ],
            "general_settings": {"background_health_checks": True, "health_check_interval": 3600},
        },
        {"DATABASE_URL": "memory://"},
    )

    async with AsyncTestClient(create_http_app(build_container(config))) as client:
        for _ in range(200):  # the first sweep runs as the server starts, in the background
            info = (await client.get("/v1/model/info")).json()["data"]
            state = {entry["model_info"]["id"]: entry["state"] for entry in info}
            if not state["down"]["healthy"]:
                break
            await asyncio.sleep(0.01)

    assert state["down"]["healthy"] is False and state["down"]["cooldown_until"] is not None
    assert state["ok"]["healthy"] is True


async def test_what_the_start_left_for_later_is_frozen_out_of_the_collectors_sight_once_the_database_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bootstrap import http as server

    monkeypatch.setattr(server, "SETTLED_AFTER_OPEN", 0.0)
    config = load_config(
        {"model_list": [{"model_name": "m", "litellm_params": {"model": "mock/m"}}]},
        {"DATABASE_URL": "memory://"},
    )
    container = build_container(config)
    store: list[DeferredStore] = []
    frozen_with_the_database_open: list[bool | None] = []
    monkeypatch.setattr(
        server.gc,
        "freeze",
        lambda: frozen_with_the_database_open.append(store[0].store is not None if store else None),
    )
    async with AsyncTestClient(create_http_app(container)) as client:
        assert frozen_with_the_database_open == [None]  # the start's own, before it answers
        store.append(await container.store())
        assert (await client.get("/health/liveliness")).status_code == 200  # the start's later work begins
        for _ in range(200):
            if len(frozen_with_the_database_open) > 1:
                break
            await asyncio.sleep(0.01)

    assert frozen_with_the_database_open == [None, True]
