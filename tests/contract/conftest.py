"""The LLMProvider contract suite runs once per adapter, each through its harness."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contract.llm_harnesses import MockHarness, OpenAIHarness, ProviderHarness

HARNESSES = {"mock": MockHarness, "openai": OpenAIHarness}


@pytest.fixture(params=sorted(HARNESSES))
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[ProviderHarness]:
    harness = HARNESSES[request.param]()
    yield harness
    await harness.close()
