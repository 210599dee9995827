"""Jina AI: embeddings and rerank."""

from adapters.llm.jina.client import JinaProvider

__all__ = ["JinaProvider"]
