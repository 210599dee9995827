"""Deepgram: speech to text through its pre-recorded `/v1/listen` API."""

from adapters.llm.deepgram.client import DeepgramProvider

__all__ = ["DeepgramProvider"]
