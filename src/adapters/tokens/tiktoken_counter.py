"""Token counts with OpenAI's tokenizers, offline."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from adapters.tokens.bpe import CL100K_BASE, O200K_BASE, encoding_name_for_model, load_encoding
from adapters.tokens.tool_text import render_tools
from domain.messages import FunctionTool, ImageDetail, ImagePart, Message, Role
from ports.token_counter import TokenCounter

# OpenAI's documented chat framing ("How to count tokens with tiktoken"): every message is wrapped in
# <|start|>{role/name}\n{content}<|end|>\n, and the reply is primed with <|start|>assistant<|message|>.
PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3
PER_TOOL_CALL = 3
"""An estimate of the `functions.<name>` framing around each tool call; OpenAI documents none."""
TOOLS_OVERHEAD = 9
SYSTEM_WITH_TOOLS_DISCOUNT = 4
"""Tools are rendered into the system message, so a request that has one shares its framing."""
# OpenAI's image pricing: a low-detail image is a flat 85 tokens; high detail adds 170 per 512 px tile
# of the resized image. The size is unknown without fetching the image, so every other image is
# counted as the documented 1024 x 1024 example: 85 + 4 x 170 = 765 tokens.
LOW_DETAIL_IMAGE = 85
IMAGE = 765


class TiktokenTokenCounter(TokenCounter):
    """cl100k_base for gpt-4, gpt-3.5 and the text-embedding models, o200k_base for every newer and
    every unknown model. Encodings load on first use (a few hundred milliseconds each)."""

    def count_text(self, text: str, model: str) -> int:
        return _counter(model)(text)

    def count_messages(
        self, messages: Sequence[Message], model: str, tools: Sequence[FunctionTool] = ()
    ) -> int:
        count = _counter(model)
        total = REPLY_PRIMING + sum(_message_tokens(message, count) for message in messages)
        if tools:
            has_system = any(m.role in (Role.SYSTEM, Role.DEVELOPER) for m in messages)
            total += count(render_tools(tools)) + TOOLS_OVERHEAD
            total -= SYSTEM_WITH_TOOLS_DISCOUNT if has_system else 0
        return total

    def warm_up(self) -> None:
        """Loads both encodings now, so that the first request does not wait; call it off the event
        loop (a thread) at startup if first-request latency matters."""
        for name in (O200K_BASE, CL100K_BASE):
            load_encoding(name)


def _counter(model: str) -> Callable[[str], int]:
    encoding = load_encoding(encoding_name_for_model(model))

    def count(text: str) -> int:
        # encode_ordinary: special-token text such as "<|endoftext|>" in user input is counted as
        # the plain text it is, never refused.
        return len(encoding.encode_ordinary(text)) if text else 0

    return count


def _message_tokens(message: Message, count: Callable[[str], int]) -> int:
    tokens = PER_MESSAGE + count(message.role.value)
    if isinstance(message.content, str):
        tokens += count(message.content)
    elif message.content:
        for part in message.content:
            tokens += _image_tokens(part) if isinstance(part, ImagePart) else count(part.text)
    if message.name:
        tokens += count(message.name) + PER_NAME
    for call in message.tool_calls:
        tokens += PER_TOOL_CALL + count(call.name) + count(call.arguments)
    return tokens


def _image_tokens(image: ImagePart) -> int:
    return LOW_DETAIL_IMAGE if image.detail is ImageDetail.LOW else IMAGE
