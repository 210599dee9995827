"""Ollama: the native `/api/chat` and `/api/embed` API (`ollama/` and `ollama_chat/` alike)."""

from adapters.llm.ollama.client import OllamaProvider

__all__ = ["OllamaProvider"]
