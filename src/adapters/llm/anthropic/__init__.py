"""The Anthropic provider family: Anthropic's Messages API."""

from adapters.llm.anthropic.client import AnthropicProvider

__all__ = ["AnthropicProvider"]
