"""The built-in offline provider."""

from adapters.llm.mock.client import MockProvider

__all__ = ["MockProvider"]
