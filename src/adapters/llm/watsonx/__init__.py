"""IBM watsonx.ai: text chat (whole and streamed) and embeddings in watsonx.ai's own API."""

from adapters.llm.watsonx.client import WatsonxProvider

__all__ = ["WatsonxProvider"]
