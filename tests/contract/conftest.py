"""Each port's contract suite runs once per adapter: LLMProviders through their harnesses, RouterStates in
memory and in the real Redis."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator

import pytest

from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.cache.resilient_router_state import ResilientRouterState
from ports.router_state import RouterState
from tests.contract import harnesses
from tests.contract.harnesses.base import ProviderHarness
from tests.contract.redis_fleet import RedisFleet


def _all_harnesses() -> dict[str, type[ProviderHarness]]:
    found: dict[str, type[ProviderHarness]] = {}
    for module in pkgutil.iter_modules(harnesses.__path__):
        found |= getattr(importlib.import_module(f"{harnesses.__name__}.{module.name}"), "HARNESSES", {})
    return found


HARNESSES = _all_harnesses()


@pytest.fixture(params=sorted(HARNESSES))
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[ProviderHarness]:
    harness = HARNESSES[request.param]()
    yield harness
    await harness.close()


@pytest.fixture
async def redis_fleet() -> AsyncIterator[RedisFleet]:
    fleet = RedisFleet()
    yield fleet
    await fleet.close()


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("resilient-redis", marks=pytest.mark.redis),
    ]
)
def router_state(request: pytest.FixtureRequest) -> RouterState:
    if request.param == "memory":
        return InMemoryRouterState()
    shared = request.getfixturevalue("redis_fleet").instance()
    if request.param == "redis":
        return shared
    return ResilientRouterState(shared, InMemoryRouterState())
