"""Voyage AI: embeddings and rerank in Voyage's own wire format."""

from adapters.llm.voyage.client import VoyageProvider

__all__ = ["VoyageProvider"]
