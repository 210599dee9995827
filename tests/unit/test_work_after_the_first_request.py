"""What a start leaves for after it (the database opening, the price lookup, the spend writer) begins once
the server is asked its first request, or soon after the start when none comes: never before the first
answer, and never later than a request that needs it."""

from __future__ import annotations

import asyncio

from litestar.testing import AsyncTestClient

from adapters.config.loader import load_config
from adapters.http import app as http_app
from adapters.persistence.deferred import DeferredStore
from bootstrap import Container, build_container, create_http_app, resolve

MASTER = {"authorization": "Bearer sk-master-after"}


def _container() -> Container:
    config = load_config(
        {
            "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
            "general_settings": {"master_key": "sk-master-after"},
        },
        {"DATABASE_URL": "memory://"},
    )
    return build_container(config)


async def _opened(store: DeferredStore) -> bool:
    for _ in range(400):
        if store.store is not None:
            return True
        await asyncio.sleep(0.005)
    return False


async def test_the_database_is_not_opened_before_the_first_request_and_is_once_it_comes() -> None:
    container = _container()
    async with AsyncTestClient(create_http_app(container)) as client:
        store = await resolve(container.store)
        await asyncio.sleep(0.1)
        assert store.store is None

        assert (await client.get("/health/liveliness")).status_code == 200
        assert await _opened(store)


async def test_with_no_request_the_database_opens_soon_after_the_start(monkeypatch) -> None:
    monkeypatch.setattr(http_app, "LATER_AFTER", 0.01)
    container = _container()
    async with AsyncTestClient(create_http_app(container)):
        assert await _opened(await resolve(container.store))


async def test_a_first_request_that_needs_the_database_is_served_with_it() -> None:
    container = _container()
    async with AsyncTestClient(create_http_app(container)) as client:
        created = await client.post("/key/generate", json={"key_alias": "first"}, headers=MASTER)
        ready = await client.get("/health/readiness")

    assert created.status_code == 200, created.text
    assert ready.status_code == 200, ready.text
