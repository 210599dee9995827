"""Hugging Face Inference Providers: the router's chat completions and hf-inference embeddings."""

from adapters.llm.huggingface.client import HuggingFaceProvider

__all__ = ["HuggingFaceProvider"]
