"""A chat.completion of the usual shape reads without pydantic as with it; any other is left to pydantic."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from adapters.openai_format import replies
from adapters.openai_format.plain_reply import read_plain_response
from domain.completions import FinishReason, Usage

PLAIN: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "system_fingerprint": "fp_1",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris, on the Seine.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 20,
        "completion_tokens": 12,
        "total_tokens": 32,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    },
}


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(PLAIN)
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


MESSAGE = ("choices", 0, "message")
VARIANTS = {
    "plain": PLAIN,
    "no usage": _with(("usage",), None),
    "no choice index": _with(("choices", 0, "index"), None),
    "a null message": _with(("choices", 0, "message"), None),
    "a host's finish reason": _with(("choices", 0, "finish_reason"), "eos"),
    "an unknown finish reason": _with(("choices", 0, "finish_reason"), "whatever"),
    "reasoning content": _with((*MESSAGE, "reasoning_content"), "thought"),
    "reasoning by another name": _with((*MESSAGE, "reasoning"), "thought"),
    "empty reasoning content": _with((*MESSAGE, "reasoning_content"), ""),
    "a refusal": _with((*MESSAGE, "refusal"), "no"),
    "logprobs": _with(("choices", 0, "logprobs"), {"content": []}),
    "a stop string": _with(("choices", 0, "stop_reason"), "###"),
    "a stop token": _with(("choices", 0, "stop_reason"), 7),
    "cache writes": _with(("usage", "prompt_tokens_details"), {"cache_write_tokens": 5}),
    "null details": _with(("usage", "completion_tokens_details"), None),
    "a count as a string": _with(("usage", "prompt_tokens"), "20"),
    "a count as a float": _with(("created",), 1700000000.0),
    "a count as a bool": _with(("usage", "completion_tokens"), True),
    "content parts": _with((*MESSAGE, "content"), [{"type": "text", "text": "Paris"}]),
    "tool calls": _with((*MESSAGE, "tool_calls"), [{"id": "c1", "function": {"name": "f"}}]),
    "a legacy function call": _with((*MESSAGE, "function_call"), {"name": "f", "arguments": {"a": 1}}),
    "thinking blocks": _with((*MESSAGE, "thinking_blocks"), [{"thinking": "hm", "signature": "s"}]),
}


@pytest.mark.parametrize("body", VARIANTS.values(), ids=list(VARIANTS))
def test_a_reply_reads_the_same_with_or_without_pydantic(body, monkeypatch) -> None:
    read = replies.read_response(body)
    monkeypatch.setattr(replies, "read_plain_response", lambda *_: None)

    assert read == replies.read_response(body)


def test_the_usual_reply_is_read_without_pydantic() -> None:
    reply = read_plain_response(PLAIN, {"stop": FinishReason.STOP})

    assert reply is not None
    assert (reply.id, reply.model, reply.choices[0].message.content) == (
        "chatcmpl-1",
        "gpt-4o-mini",
        "Paris, on the Seine.",
    )
    assert reply.usage == Usage(prompt_tokens=20, completion_tokens=12, cached_tokens=4, reasoning_tokens=2)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"id": "x"},
        _with(("choices",), "none"),
        _with(("choices", 0), "a choice"),
        _with((*MESSAGE, "content"), 7),
        _with((*MESSAGE, "reasoning_content"), 0),
        _with(("usage",), "lots"),
        _with(("usage", "prompt_tokens_details"), [4]),
        _with(("choices", 0, "logprobs"), [0.5]),
    ],
)
def test_a_body_of_another_shape_is_left_to_pydantic(body) -> None:
    assert read_plain_response(body, {}) is None
