"""The Gemini provider family: Google AI Studio's Gemini API and Vertex AI's Gemini models."""

from adapters.llm.gemini.client import GeminiProvider, VertexProvider

__all__ = ["GeminiProvider", "VertexProvider"]
