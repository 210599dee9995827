"""Providers that serve some models in another wire format than their adapter's: the adapter each model's
name calls for, as LiteLLM routes them. Pure and cheap: read when the deployments are wired.

- `vertex_ai/claude-...`: Anthropic's Messages API on Vertex AI (anthropic/vertex.py); `vertex_ai/` partner
  and open models (Llama, DeepSeek, Qwen, gpt-oss, Mistral, Codestral, Jamba): OpenAI's chat format
  (gemini/partners.py); every other `vertex_ai/` model is Gemini's. LiteLLM's rules:
  litellm/llms/vertex_ai/vertex_ai_partner_models/main.py (`is_vertex_partner_model`,
  `should_use_openai_handler`), https://docs.litellm.ai/docs/providers/vertex_partner.
- `bedrock/invoke/<Claude model, inference profile or ARN>`: Anthropic's Messages API through InvokeModel
  (bedrock/invoke.py), https://docs.litellm.ai/docs/providers/bedrock#bedrock-invoke-route; every other
  `bedrock/` model (Claude included) goes through Converse, as in LiteLLM.
"""

from __future__ import annotations

import re

OPENAI_LIKE = ("llama", "deepseek-ai", "qwen", "openai/gpt-oss-")
"""Vertex model names (anywhere in them, as LiteLLM matches) served at the OpenAI-compatible endpoint."""
_PUBLISHERS = (("mistral", "mistralai"), ("codestral", "mistralai"), ("jamba", "ai21"))
"""Vertex model name prefix -> the Model Garden publisher whose rawPredict serves it."""
_CLAUDE = re.compile(r"(^|[.:/])anthropic\.|claude|^arn:", re.I)
"""A Bedrock model id of Claude's; an ARN (an application inference profile) is taken as Claude's on
the invoke route, which serves no other model family."""
_VERTEX_CLAUDE = "adapters.llm.anthropic.vertex:VertexAnthropicProvider"
_VERTEX_PARTNER = "adapters.llm.gemini.partners:VertexPartnerProvider"
_BEDROCK_INVOKE = "adapters.llm.bedrock.invoke:BedrockAnthropicProvider"


def adapter_target(provider: str, model: str) -> str | None:
    """The adapter ("module:class") serving `model` of `provider` when it is not the provider's own."""
    if provider == "vertex_ai":
        if model.startswith("claude"):
            return _VERTEX_CLAUDE
        if any(name in model for name in OPENAI_LIKE) or vertex_publisher(model) is not None:
            return _VERTEX_PARTNER
    elif provider == "bedrock" and model.startswith("invoke/") and _CLAUDE.search(model[7:]):
        return _BEDROCK_INVOKE
    return None


def vertex_publisher(model: str) -> str | None:
    """The publisher of a Vertex partner model served by rawPredict; None for the OpenAI-compatible ones
    (and for models that are not partners')."""
    if any(name in model for name in OPENAI_LIKE):
        return None
    return next((found for prefix, found in _PUBLISHERS if model.startswith(prefix)), None)
