"""The texts a guardrail reads of a request or a reply, and the request or reply with those texts
rewritten (in the client's own wire format too, when the request travels as sent)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from domain.completions import CompletionRequest, CompletionResponse
from domain.embeddings import EmbeddingRequest
from domain.messages import Message, TextPart

_NATIVE_TEXT_FIELDS = ("messages", "system", "input", "instructions", "prompt")
"""The parts of a native body that hold the conversation's text (Anthropic's, the Responses API's)."""


def request_texts(request: CompletionRequest | EmbeddingRequest) -> tuple[str, ...]:
    """Each piece of text of the prompt, in order: a message's string content, or each of its text
    parts; an embedding's text inputs."""
    if isinstance(request, EmbeddingRequest):
        return tuple(text for text in request.inputs if isinstance(text, str))
    texts: list[str] = []
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            texts.append(content)
        elif content:
            texts.extend(part.text for part in content if isinstance(part, TextPart))
    return tuple(texts)


def with_request_texts(
    request: CompletionRequest | EmbeddingRequest,
    texts: Sequence[str],
    replacements: Sequence[tuple[str, str]] = (),
) -> CompletionRequest | EmbeddingRequest:
    """`request` with its texts (as `request_texts` lists them) replaced by `texts`. A native body gets
    the same change: each text that changed, wherever the body holds it whole, and each of
    `replacements` wherever it holds the piece."""
    before = request_texts(request)
    if tuple(texts) == before:
        return request
    if isinstance(request, EmbeddingRequest):
        given = iter(texts)
        inputs = tuple(next(given) if isinstance(text, str) else text for text in request.inputs)
        return dataclasses.replace(request, inputs=inputs)  # type: ignore[arg-type]
    given = iter(texts)
    messages = tuple(_message_with(message, given) for message in request.messages)
    changed = dataclasses.replace(request, messages=messages)
    native = request.native
    if native is None:
        return changed
    whole = {old: new for old, new in zip(before, texts, strict=True) if old != new}

    def rewrite(text: str) -> str:
        text = whole.get(text, text)
        for found, replacement in replacements:
            if found and found in text:
                text = text.replace(found, replacement)
        return text

    body = {
        name: (_rewritten(value, rewrite) if name in _NATIVE_TEXT_FIELDS else value)
        for name, value in native.body.items()
    }
    return dataclasses.replace(changed, native=dataclasses.replace(native, body=body))


def _message_with(message: Message, given: Any) -> Message:
    content = message.content
    if isinstance(content, str):
        return dataclasses.replace(message, content=next(given))
    if not content:
        return message
    parts = tuple(TextPart(next(given)) if isinstance(part, TextPart) else part for part in content)
    return dataclasses.replace(message, content=parts)


def _rewritten(value: Any, rewrite: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, Mapping):
        return {key: _rewritten(item, rewrite) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rewritten(item, rewrite) for item in value]
    return value


def reply_texts(reply: CompletionResponse) -> tuple[str, ...]:
    """Each choice's text, in order."""
    return tuple(choice.message.text for choice in reply.choices)


def with_reply_texts(reply: CompletionResponse, texts: Sequence[str]) -> CompletionResponse:
    """`reply` with each choice's text replaced; the upstream's own body is let go when anything
    changed, so that the reply is rendered from what it now says."""
    if tuple(texts) == reply_texts(reply):
        return reply
    choices = tuple(
        dataclasses.replace(choice, message=dataclasses.replace(choice.message, content=text or None))
        if text != choice.message.text
        else choice
        for choice, text in zip(reply.choices, texts, strict=True)
    )
    return dataclasses.replace(reply, choices=choices, native=None)
