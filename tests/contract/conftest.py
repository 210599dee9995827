"""The LLMProvider contract suite runs once per adapter, each through its harness."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator

import pytest

from tests.contract import harnesses
from tests.contract.harnesses.base import ProviderHarness


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
