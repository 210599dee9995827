"""Token counting with OpenAI's tokenizers, shipped with the package so that it works offline."""

from adapters.tokens.tiktoken_counter import TiktokenTokenCounter

__all__ = ["TiktokenTokenCounter"]
