"""The composition root's wiring tables."""

from __future__ import annotations

import pytest

from bootstrap import ADAPTERS, adapter_for, served_deployments
from domain.deployments import Capabilities, Deployment
from ports.llm_provider import LLMProvider


@pytest.mark.parametrize("provider", sorted(ADAPTERS))
def test_every_provider_row_names_an_adapter_that_exists(provider: str) -> None:
    adapter = adapter_for(provider)

    assert adapter is not None and issubclass(adapter, LLMProvider)


def test_a_provider_without_an_adapter_has_none() -> None:
    assert adapter_for("nonexistent") is None


def test_a_deployment_promises_only_what_its_adapter_can_carry() -> None:
    wanted = Capabilities(chat=True, embeddings=True, tools=True)
    anthropic = Deployment(
        id="d", model_name="m", provider="anthropic", upstream_model="claude", capabilities=wanted
    )

    (served,) = served_deployments([anthropic])

    assert (served.capabilities.tools, served.capabilities.embeddings) == (True, False)
