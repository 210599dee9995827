"""Cohere: v2 chat and embed in Cohere's own wire format."""

from adapters.llm.cohere.client import CohereProvider

__all__ = ["CohereProvider"]
