"""The tiktoken token counter: OpenAI's counts, offline, from the rank files shipped in the package."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adapters.tokens import TiktokenTokenCounter, bpe
from domain.messages import FunctionTool, ImageDetail, ImagePart, Message, Role, TextPart, ToolCall

counter = TiktokenTokenCounter()

# The examples of OpenAI's cookbook "How to count tokens with tiktoken", with the prompt_tokens the
# API reported for them.
JARGON = [
    Message(
        Role.SYSTEM,
        "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
    ),
    Message(Role.SYSTEM, "New synergies will help drive top-line growth.", name="example_user"),
    Message(Role.SYSTEM, "Things working well together will increase revenue.", name="example_assistant"),
    Message(
        Role.SYSTEM,
        "Let's circle back when we have more time to touch base on opportunities for increased leverage.",
        name="example_user",
    ),
    Message(
        Role.SYSTEM, "Let's talk later when we're less busy about how to do better.", name="example_assistant"
    ),
    Message(
        Role.USER, "This late pivot means we don't have time to boil the ocean for the client deliverable."
    ),
]
WEATHER = [
    Message(Role.SYSTEM, "You are a helpful assistant that can answer to questions about the weather."),
    Message(Role.USER, "What's the weather like in San Francisco?"),
]
WEATHER_TOOL = FunctionTool(
    name="get_current_weather",
    description="Get the current weather in a given location",
    parameters={
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {
                "type": "string",
                "description": "The unit of temperature to return",
                "enum": ["celsius", "fahrenheit"],
            },
        },
        "required": ["location"],
    },
)


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_hello_world_is_two_tokens_under_both_encodings(model: str) -> None:
    assert counter.count_text("hello world", model) == 2


def test_the_encodings_give_openais_token_ids() -> None:
    assert bpe.load_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert bpe.load_encoding("o200k_base").encode_ordinary("hello world") == [24912, 2375]
    assert counter.count_text("tiktoken is great!", "gpt-3.5-turbo") == 6


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("openai/gpt-4o-mini", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o1-preview", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("ft:gpt-4o-mini:acme::abc123", "o200k_base"),
        ("openrouter/openai/gpt-4o", "o200k_base"),
        ("claude-3-5-sonnet", "o200k_base"),
        ("some-model-nobody-knows", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("azure/gpt-35-turbo", "cl100k_base"),
        ("ft:gpt-3.5-turbo:acme::xyz", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("openai/text-embedding-ada-002", "cl100k_base"),
    ],
)
def test_each_model_family_gets_its_encoding(model: str, encoding: str) -> None:
    assert bpe.encoding_name_for_model(model) == encoding


@pytest.mark.parametrize(("model", "prompt_tokens"), [("gpt-3.5-turbo-0125", 129), ("gpt-4o", 124)])
def test_messages_count_what_openai_bills_for_the_cookbook_example(model: str, prompt_tokens: int) -> None:
    assert counter.count_messages(JARGON, model) == prompt_tokens


@pytest.mark.parametrize(("model", "prompt_tokens"), [("gpt-4", 105), ("gpt-4o-mini", 101)])
def test_tool_definitions_count_what_openai_bills_for_the_cookbook_example(
    model: str, prompt_tokens: int
) -> None:
    assert counter.count_messages(WEATHER, model, [WEATHER_TOOL]) == prompt_tokens


def test_each_message_costs_three_tokens_of_framing_plus_three_for_the_reply() -> None:
    one = counter.count_messages([Message(Role.USER, "hello world")], "gpt-4o")
    two = counter.count_messages([Message(Role.USER, "hello world")] * 2, "gpt-4o")
    assert one == 3 + 1 + 2 + 3  # framing, the role "user", the text, the reply priming
    assert two - one == 3 + 1 + 2
    assert counter.count_messages([], "gpt-4o") == 3


def test_a_name_costs_its_tokens_plus_one() -> None:
    plain = counter.count_messages([Message(Role.USER, "hi")], "gpt-4o")
    named = counter.count_messages([Message(Role.USER, "hi", name="bob")], "gpt-4o")
    assert named - plain == counter.count_text("bob", "gpt-4o") + 1


def test_images_count_a_flat_documented_amount_by_detail() -> None:
    def with_image(detail: ImageDetail | None) -> int:
        parts = (TextPart("what is this?"), ImagePart("https://example.com/cat.png", detail))
        return counter.count_messages([Message(Role.USER, parts)], "gpt-4o")

    text_only = counter.count_messages([Message(Role.USER, (TextPart("what is this?"),))], "gpt-4o")
    assert with_image(ImageDetail.LOW) - text_only == 85
    assert with_image(ImageDetail.HIGH) - text_only == 765
    assert with_image(None) - text_only == 765


def test_an_assistants_tool_calls_count_their_name_and_arguments() -> None:
    call = ToolCall(id="call_1", name="get_current_weather", arguments='{"location": "Paris"}')
    bare = counter.count_messages([Message(Role.ASSISTANT)], "gpt-4o")
    calling = counter.count_messages([Message(Role.ASSISTANT, tool_calls=(call,))], "gpt-4o")
    expected = 3 + counter.count_text(call.name, "gpt-4o") + counter.count_text(call.arguments, "gpt-4o")
    assert calling - bare == expected


def test_a_system_message_shares_its_framing_with_the_tools() -> None:
    user_only = [WEATHER[1]]
    without = counter.count_messages(user_only, "gpt-4o", [WEATHER_TOOL]) - counter.count_messages(
        user_only, "gpt-4o"
    )
    with_system = counter.count_messages(WEATHER, "gpt-4o", [WEATHER_TOOL]) - counter.count_messages(
        WEATHER, "gpt-4o"
    )
    assert without - with_system == 4


def test_nested_and_odd_tool_schemas_are_counted_without_error() -> None:
    tool = FunctionTool(
        name="book",
        parameters={
            "type": "object",
            "properties": {
                "guests": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"age": {"type": "integer"}}},
                },
                "vip": {"type": "boolean"},
                "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "level": {"type": "integer", "enum": [1, 2, 3]},
            },
        },
    )
    no_params = FunctionTool(name="ping")
    assert counter.count_messages([Message(Role.USER, "hi")], "gpt-4o", [tool, no_params]) > 20


@pytest.mark.parametrize(
    "text",
    ["<|endoftext|> and <|fim_prefix|>", "lone surrogate \ud800 here", "", "🦜" * 100, "a" * 200_000],
)
def test_any_text_is_counted_and_never_refused(text: str) -> None:
    assert counter.count_text(text, "gpt-4o") >= 0
    assert counter.count_text(text, "gpt-4") >= 0


def test_the_shipped_rank_files_are_the_ones_tiktoken_expects(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken_ext.openai_public as openai_public

    # tiktoken's constructors would download the ranks; only their pattern and special tokens matter here.
    hashes: dict[str, str] = {}

    def record_hash(url: str, expected_hash: str) -> dict[bytes, int]:
        hashes[url] = expected_hash
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", record_hash)
    for name, spec in bpe.SPECS.items():
        declared = openai_public.ENCODING_CONSTRUCTORS[name]()
        assert spec.pat_str == declared["pat_str"]
        assert spec.special_tokens == declared["special_tokens"]
        assert spec.path.is_file()
    assert sorted(spec.sha256 for spec in bpe.SPECS.values()) == sorted(hashes.values())


def test_concurrent_first_use_builds_each_encoding_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bpe, "_loaded", {})
    built: list[str] = []
    real_build = bpe._build

    def counting_build(spec: bpe.EncodingSpec) -> object:
        built.append(spec.name)
        return real_build(spec)

    monkeypatch.setattr(bpe, "_build", counting_build)
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(bpe.load_encoding("cl100k_base"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert built == ["cl100k_base"]
    assert len({id(result) for result in results}) == 1


def _run_python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_counting_works_offline_with_an_empty_tiktoken_cache(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    code = """
import socket

def refuse(*args, **kwargs):
    raise OSError("this test has no network")

socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from adapters.tokens import TiktokenTokenCounter

counter = TiktokenTokenCounter()
print(counter.count_text("hello world", "gpt-4o"), counter.count_text("hello world", "gpt-4"))
"""
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache)}
    env.pop("DATA_GYM_CACHE_DIR", None)
    assert _run_python(code, env) == "2 2"
    assert list(cache.iterdir()) == []


def test_importing_the_counter_loads_no_tokenizer() -> None:
    code = "import sys, adapters.tokens; print('tiktoken' in sys.modules, len(adapters.tokens.bpe._loaded))"
    assert _run_python(code, dict(os.environ)) == "False 0"
