"""The port that counts tokens the way a model's tokenizer does."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from domain.messages import FunctionTool, Message


class TokenCounter(ABC):
    """Counts tokens for a model. Works offline; when a model's own tokenizer is unknown, a close
    general-purpose encoding is used. Never raises for any text or message list."""

    @abstractmethod
    def count_text(self, text: str, model: str) -> int: ...

    @abstractmethod
    def count_messages(
        self, messages: Sequence[Message], model: str, tools: Sequence[FunctionTool] = ()
    ) -> int:
        """Prompt tokens of a chat request, including the per-message framing the model adds."""
