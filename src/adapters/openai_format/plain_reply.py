"""A `chat.completion` of the usual shape read straight from its decoded dict, without pydantic.

Most replies are text, a finish reason and usage, every field of the type the reply models declare: for
them, checking the types by hand and building the domain reply costs ~3 µs where validating with
wire.Completion first costs ~10 µs (measured with timeit on bench/mock_upstream.py's reply). Anything
else (tool calls, content parts, thinking blocks, a number written as a string, a malformed body) is
left to replies.read_response's pydantic reading, so what a reply reads as is decided in one place."""

from __future__ import annotations

from typing import Any

from domain.completions import Choice, CompletionResponse, FinishReason, Usage
from domain.messages import Message, Role

_NOTHING: dict[str, Any] = {}
# The message fields this reading leaves to pydantic's when they carry anything.
_NOT_PLAIN = ("tool_calls", "function_call", "thinking_blocks")


def read_plain_response(body: object, finish: dict[str, FinishReason]) -> CompletionResponse | None:
    """The domain reply of `body` when it has the usual shape, else None. `finish` reads a finish
    reason (any other reads as `stop`)."""
    if type(body) is not dict:
        return None
    choices = body.get("choices")
    if type(choices) is not list:
        return None
    id_, created, model = body.get("id"), body.get("created"), body.get("model")
    fingerprint, tier = body.get("system_fingerprint"), body.get("service_tier")
    if not (_text(id_) and _int(created) and _text(model) and _text(fingerprint) and _text(tier)):
        return None
    read = []
    for position, choice in enumerate(choices):
        one = _choice(choice, position, finish)
        if one is None:
            return None
        read.append(one)
    usage = body.get("usage")
    counted = None if usage is None else _usage(usage)
    if usage is not None and counted is None:
        return None
    return CompletionResponse(
        id=id_ or "",
        created=created or 0,
        model=model or "",
        choices=tuple(read),
        usage=counted,
        system_fingerprint=fingerprint,
        service_tier=tier,
    )


def _choice(choice: object, position: int, finish: dict[str, FinishReason]) -> Choice | None:
    if type(choice) is not dict:
        return None
    index, reason, logprobs = choice.get("index"), choice.get("finish_reason"), choice.get("logprobs")
    stop_reason = choice.get("stop_reason")
    message = choice.get("message")
    if message is None:
        message = _NOTHING
    elif type(message) is not dict:
        return None
    if not (_int(index) and _text(reason) and (logprobs is None or type(logprobs) is dict)):
        return None
    if not (_text(stop_reason) or type(stop_reason) is int):
        return None
    content, refusal, role = message.get("content"), message.get("refusal"), message.get("role")
    reasoning, thought = message.get("reasoning_content"), message.get("reasoning")
    if not (_text(content) and _text(refusal) and _text(reasoning) and _text(thought) and _text(role)):
        return None
    if any(message.get(name) is not None for name in _NOT_PLAIN):
        return None
    return Choice(
        index=position if index is None else index,
        message=Message(
            role=Role.ASSISTANT,
            content=content,
            reasoning_content=reasoning or thought,
            refusal=refusal,
        ),
        finish_reason=None if reason is None else finish.get(reason, FinishReason.STOP),
        logprobs=logprobs,
        stop_sequence=stop_reason if type(stop_reason) is str else None,
    )


def _usage(usage: object) -> Usage | None:
    if type(usage) is not dict:
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    if prompt_details is None:
        prompt_details = _NOTHING
    if completion_details is None:
        completion_details = _NOTHING
    if not (_int(prompt) and _int(completion)):
        return None
    if type(prompt_details) is not dict or type(completion_details) is not dict:
        return None
    cached, written = prompt_details.get("cached_tokens"), prompt_details.get("cache_write_tokens")
    reasoning = completion_details.get("reasoning_tokens")
    if not (_int(cached) and _int(written) and _int(reasoning)):
        return None
    return Usage(
        prompt_tokens=prompt or 0,
        completion_tokens=completion or 0,
        cached_tokens=cached or 0,
        cache_creation_tokens=written or 0,
        reasoning_tokens=reasoning or 0,
    )


def _text(value: object) -> bool:
    """Whether a field the reply models declare `str | None` holds what they take without conversion."""
    return value is None or type(value) is str


def _int(value: object) -> bool:
    """Whether a field declared `int | None` does (a bool, a float or a string goes to pydantic's
    reading, which converts or refuses it)."""
    return value is None or type(value) is int
