"""The OpenAI wire codec, request side: any JSON at all is either a request or a BadRequestError."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from adapters.openai_format import parse_chat_request, parse_embedding_request
from domain.errors import BadRequestError
from tests.unit.test_openai_format import WEATHER, chat


def _deep(levels: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(levels):
        nested = [nested]
    return nested


GARBAGE = [
    None,
    True,
    0,
    -1.5,
    float("nan"),
    "",
    "{}",
    [],
    [{"model": "gpt-x"}],
    {},
    {"model": None, "messages": None},
    {"model": "gpt-x"},
    {"model": "gpt-x", "messages": [None]},
    {"model": "gpt-x", "messages": [[]]},
    {"model": "gpt-x", "messages": _deep(10_000)},
    {"model": "gpt-x", "messages": [{"role": "user", "content": _deep(10_000)}]},
    {"model": _deep(10_000), "messages": []},
    {"model": "gpt-x", "messages": [{"role": ["user"], "content": "x"}]},
    {"model": "gpt-x", "messages": [{"role": "user", "content": {"text": "x"}}]},
    {"model": "gpt-x", "messages": [{"role": "user", "content": [None]}]},
    {"model": "gpt-x", "messages": [{"role": "user", "content": [{"type": None}]}]},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "temperature": float("nan")},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "tools": [None]},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "tool_choice": {"function": None}},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "functions": "all"},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "function_call": ["auto"]},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "response_format": "json"},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "stream_options": True},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "logit_bias": [1, 2]},
    {"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**100 * -1},
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_refused_with_a_bad_request_and_nothing_else(body: object) -> None:
    with pytest.raises(BadRequestError):
        parse_chat_request(body)


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "str"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "dict":
        keys = ["role", "content", "type", "text", "name", "function", "model", "url", "x"]
        return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return {
        "null": None,
        "bool": rng.random() < 0.5,
        "int": rng.choice([0, 1, -1, 2**70, 3]),
        "float": rng.choice([0.5, -3.0, 1e308, float("inf")]),
        "str": rng.choice(["", "user", "text", "auto", "\ud800", "a" * 300]),
    }[kind]


def _mutations(rng: random.Random, body: Any) -> Any:
    """`body` with one value somewhere inside replaced by random JSON."""
    body = copy.deepcopy(body)
    target = body
    while True:
        keys = list(range(len(target))) if isinstance(target, list) else list(target)
        if not keys:
            return body
        key = rng.choice(keys)
        if isinstance(target[key], dict | list) and rng.random() < 0.7:
            target = target[key]
            continue
        target[key] = _random_json(rng)
        return body


def test_randomly_broken_bodies_are_refused_with_bad_requests_and_nothing_else() -> None:
    rng = random.Random(20240607)
    call = {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    valid = chat(
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
        ],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {}}},
        stop=["x"],
        stream_options={"include_usage": True},
    )
    refused = 0
    for _ in range(3000):
        try:
            parse_chat_request(_mutations(rng, valid))
        except BadRequestError:
            refused += 1

    assert 0 < refused < 3000


@pytest.mark.parametrize("body", [None, [], "x", 1, {}, {"model": "e", "input": _deep(10_000)}], ids=range(6))
def test_embedding_garbage_is_refused_with_a_bad_request(body: object) -> None:
    with pytest.raises(BadRequestError):
        parse_embedding_request(body)
