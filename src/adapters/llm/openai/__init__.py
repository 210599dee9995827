"""The OpenAI provider family: OpenAI's API and hosts that speak it."""

from adapters.llm.openai.client import OpenAIProvider

__all__ = ["OpenAIProvider"]
