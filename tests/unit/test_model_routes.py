"""Which adapter serves a deployment whose provider serves models in several wire formats."""

from __future__ import annotations

import pytest

from adapters.llm.anthropic.vertex import VertexAnthropicProvider
from adapters.llm.bedrock import BedrockProvider
from adapters.llm.bedrock.invoke import BedrockAnthropicProvider
from adapters.llm.gemini.client import VertexProvider
from adapters.llm.gemini.partners import VertexPartnerProvider
from bootstrap.upstreams import adapter_of, served_deployments
from domain.deployments import Capabilities, Deployment
from ports.llm_provider import LLMProvider


def _deployment(provider: str, model: str) -> Deployment:
    capabilities = Capabilities(embeddings=True)
    return Deployment(
        id="d", model_name="m", provider=provider, upstream_model=model, capabilities=capabilities
    )


@pytest.mark.parametrize(
    ("provider", "model", "adapter"),
    [
        ("vertex_ai", "gemini-2.5-pro", VertexProvider),
        ("vertex_ai", "claude-sonnet-4-5@20250929", VertexAnthropicProvider),
        ("vertex_ai", "claude-opus-4-1", VertexAnthropicProvider),
        ("vertex_ai", "meta/llama-4-maverick-17b-128e-instruct-maas", VertexPartnerProvider),
        ("vertex_ai", "deepseek-ai/deepseek-v3.1-maas", VertexPartnerProvider),
        ("vertex_ai", "qwen/qwen3-coder-480b-a35b-instruct-maas", VertexPartnerProvider),
        ("vertex_ai", "openai/gpt-oss-120b-maas", VertexPartnerProvider),
        ("vertex_ai", "mistral-large@2411", VertexPartnerProvider),
        ("vertex_ai", "codestral-2501", VertexPartnerProvider),
        ("vertex_ai", "jamba-1.5-mini@001", VertexPartnerProvider),
        ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0", BedrockProvider),
        ("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", BedrockProvider),
        ("bedrock", "invoke/anthropic.claude-3-5-haiku-20241022-v1:0", BedrockAnthropicProvider),
        ("bedrock", "invoke/global.anthropic.claude-sonnet-4-5-20250929-v1:0", BedrockAnthropicProvider),
        (
            "bedrock",
            "invoke/arn:aws:bedrock:us-east-1:1:application-inference-profile/x",
            BedrockAnthropicProvider,
        ),
        ("bedrock", "invoke/meta.llama3-70b-instruct-v1:0", BedrockProvider),
        ("anthropic", "claude-sonnet-4-5", None),
    ],
)
def test_each_model_goes_to_the_adapter_of_its_wire_format(
    provider: str, model: str, adapter: type[LLMProvider] | None
) -> None:
    found = adapter_of(_deployment(provider, model))

    assert found is (adapter or found)
    assert found is not None and found.name == provider


def test_a_routed_deployment_is_limited_to_its_own_adapters_capabilities() -> None:
    (claude, gemini) = served_deployments(
        [_deployment("vertex_ai", "claude-sonnet-4-5"), _deployment("vertex_ai", "gemini-2.5-pro")]
    )

    assert not claude.capabilities.embeddings
    assert gemini.capabilities.embeddings
