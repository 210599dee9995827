"""Anthropic Messages requests into domain requests: each field's translation, and any JSON at all is either
a request or a BadRequestError naming the field the way Anthropic does."""

from __future__ import annotations

import contextlib
import copy
import random
from typing import Any

import pytest

from adapters.anthropic_format import parse_count_tokens_request, parse_messages_request, untranslated_fields
from domain.completions import ReasoningEffort
from domain.errors import BadRequestError
from domain.messages import (
    DocumentPart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    ToolChoiceMode,
)

HI = [{"role": "user", "content": "Hi"}]
TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def body(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"model": "claude-x", "max_tokens": 256, "messages": HI}
    out.update(fields)
    return {name: value for name, value in out.items() if value is not ...}


def parse(**fields: Any) -> Any:
    return parse_messages_request(body(**fields), {})


def refusal(payload: object) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        parse_messages_request(payload, {})
    return caught.value


def test_a_minimal_request_is_one_user_message_with_max_tokens() -> None:
    request = parse()

    assert request.model == "claude-x"
    assert request.messages == (Message(Role.USER, "Hi"),)
    assert request.params.max_tokens == 256
    assert request.stream is False and request.include_usage is False
    assert request.tools == () and request.tool_choice is None
    assert request.extra_body == {} and request.controls == {}


def test_max_tokens_is_required_by_messages_but_not_by_count_tokens() -> None:
    error = refusal(body(max_tokens=...))

    assert error.param == "max_tokens"
    assert error.message == "max_tokens: Field required"
    assert parse_count_tokens_request(body(max_tokens=...), {}).params.max_tokens is None


def test_a_count_tokens_request_never_streams() -> None:
    assert parse_count_tokens_request(body(stream=True), {}).stream is False


def test_a_stream_always_asks_for_usage() -> None:
    request = parse(stream=True)

    assert request.stream is True and request.include_usage is True


def test_a_string_system_prompt_leads_as_one_system_message() -> None:
    assert parse(system="Be brief.").messages[0] == Message(Role.SYSTEM, "Be brief.")


def test_system_blocks_keep_each_text_and_drop_cache_control() -> None:
    system = [
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Be careful.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]

    assert parse(system=system).messages[0] == Message(
        Role.SYSTEM, (TextPart("You are Claude Code."), TextPart("Be careful."))
    )


def test_an_empty_system_prompt_adds_no_message() -> None:
    assert parse(system="").messages == (Message(Role.USER, "Hi"),)
    assert parse(system=[]).messages == (Message(Role.USER, "Hi"),)


def test_a_lone_text_block_is_the_plain_string_it_stands_for() -> None:
    request = parse(messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])

    assert request.messages == (Message(Role.USER, "Hi"),)


def test_a_turn_of_tool_results_becomes_one_tool_message_per_result_ahead_of_its_text() -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Here you go."},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18 C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "is_error": True,
                    "content": [{"type": "text", "text": "timeout"}],
                },
            ],
        },
    ]

    _, assistant, paris, rome, text = parse(messages=messages, tools=[TOOL]).messages

    assert assistant.content is None
    assert [(call.id, call.arguments) for call in assistant.tool_calls] == [
        ("toolu_1", '{"city":"Paris"}'),
        ("toolu_2", '{"city":"Rome"}'),
    ]
    assert paris == Message(Role.TOOL, "18 C", tool_call_id="toolu_1")
    assert rome == Message(Role.TOOL, "timeout", tool_call_id="toolu_2", tool_error=True)
    assert text == Message(Role.USER, "Here you go.")


def test_a_tool_result_without_content_is_an_empty_result() -> None:
    messages = [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
    ]

    assert parse(messages=messages).messages[-1] == Message(Role.TOOL, "", tool_call_id="t")


def test_tool_input_becomes_compact_json_arguments_with_unicode_kept() -> None:
    messages = [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"q": "café", "n": [1, 2]}}],
        }
    ]

    (message,) = parse(messages=messages).messages

    assert message.tool_calls[0].arguments == '{"q":"café","n":[1,2]}'


def test_thinking_blocks_keep_their_signatures_and_join_into_reasoning_content() -> None:
    messages = [
        HI[0],
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "First, ", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "thinking", "thinking": "then.", "signature": "sig-2"},
                {"type": "text", "text": "Done."},
            ],
        },
    ]

    assistant = parse(messages=messages).messages[1]

    assert [(b.text, b.signature, b.redacted) for b in assistant.thinking_blocks] == [
        ("First, ", "sig-1", None),
        ("", None, "opaque"),
        ("then.", "sig-2", None),
    ]
    assert assistant.reasoning_content == "First, then."
    assert assistant.content == "Done."


def test_a_final_assistant_turn_may_be_empty_as_a_prefill() -> None:
    request = parse(messages=[HI[0], {"role": "assistant", "content": ""}])

    assert request.messages[-1] == Message(Role.ASSISTANT, "")


def test_a_plain_text_document_and_a_content_document_become_text_documents() -> None:
    content = [
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "hé"},
            "context": "c",
        },
        {"type": "document", "source": {"type": "content", "content": "plain"}},
        {"type": "text", "text": "Read them."},
    ]

    (message,) = parse(messages=[{"role": "user", "content": content}]).messages

    assert message.content == (
        DocumentPart("data:text/plain;base64,aMOp", context="c"),
        DocumentPart("data:text/plain;base64,cGxhaW4="),
        TextPart("Read them."),
    )


def test_tool_choices_map_to_the_domain_modes() -> None:
    assert parse(tools=[TOOL], tool_choice={"type": "auto"}).tool_choice is ToolChoiceMode.AUTO
    assert parse(tools=[TOOL], tool_choice={"type": "any"}).tool_choice is ToolChoiceMode.REQUIRED
    assert parse(tools=[TOOL], tool_choice={"type": "none"}).tool_choice is ToolChoiceMode.NONE
    named = parse(tools=[TOOL], tool_choice={"type": "tool", "name": "get_weather"})
    assert named.tool_choice == NamedToolChoice("get_weather")
    assert named.params.parallel_tool_calls is None


def test_disabling_parallel_tool_use_turns_parallel_tool_calls_off() -> None:
    request = parse(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": True})

    assert request.params.parallel_tool_calls is False


def test_a_custom_tool_keeps_its_schema_description_and_strictness() -> None:
    tool = {
        "type": "custom",
        "name": "f",
        "description": "d",
        "input_schema": {"type": "object"},
        "strict": True,
    }

    (function,) = parse(tools=[tool]).tools

    assert (function.name, function.description, function.parameters, function.strict) == (
        "f",
        "d",
        {"type": "object"},
        True,
    )


def test_sampling_fields_and_metadata_user_id_become_sampling_params() -> None:
    params = parse(
        temperature=0.7, top_p=0.9, top_k=5, stop_sequences=["END"], metadata={"user_id": "u-1"}
    ).params

    assert (params.temperature, params.top_p, params.top_k, params.stop, params.user) == (
        0.7,
        0.9,
        5,
        ("END",),
        "u-1",
    )


def test_an_enabled_thinking_gives_its_budget_and_other_kinds_none() -> None:
    assert parse(thinking={"type": "enabled", "budget_tokens": 2048}).params.thinking_budget == 2048
    assert parse(thinking={"type": "disabled"}).params.thinking_budget is None
    assert parse(thinking={"type": "adaptive"}).params.thinking_budget is None


def test_output_config_gives_reasoning_effort_and_a_json_schema_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}

    request = parse(output_config={"effort": "max", "format": {"type": "json_schema", "schema": schema}})

    assert request.params.reasoning_effort is ReasoningEffort.XHIGH
    assert request.response_format == ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, name="output", schema=schema
    )
    assert "output_config" not in request.extra_body


def test_unmodelled_fields_go_to_extra_body_and_serving_hints_are_left_out() -> None:
    request = parse(
        service_tier="auto",
        inference_geo="eu",
        cache_control={"type": "ephemeral"},
        context_management={"edits": []},
        speed="fast",
    )

    assert request.extra_body == {"service_tier": "auto", "inference_geo": "eu"}


def test_gateway_controls_are_read_and_kept_out_of_the_native_body() -> None:
    sent = body(fallbacks=["gpt-x"], num_retries=2, cache={"no-cache": True}, mock_response="canned")

    request = parse_messages_request(sent, {})

    assert request.controls == {"fallbacks": ["gpt-x"], "num_retries": 2, "cache": {"no-cache": True}}
    assert request.mock_response == "canned"
    assert request.native is not None
    assert request.native.body == body()
    assert "fallbacks" in sent  # the caller's dict is left alone


def test_only_anthropics_own_headers_travel_with_the_native_request() -> None:
    headers = {"anthropic-beta": "a,b", "anthropic-version": "2023-06-01", "x-api-key": "sk-secret"}

    request = parse_messages_request(body(), headers)

    assert request.native is not None
    assert request.native.headers == {"anthropic-beta": "a,b", "anthropic-version": "2023-06-01"}


def test_files_api_sources_and_server_blocks_are_untranslated() -> None:
    content = [
        {"type": "image", "source": {"type": "file", "file_id": "file_011"}},
        {"type": "document", "source": {"type": "file", "file_id": "file_012"}},
        {
            "type": "tool_result",
            "tool_use_id": "t",
            "content": [{"type": "tool_reference", "tool_name": "x"}],
        },
        {"type": "text", "text": "and this"},
    ]
    sent = body(
        messages=[{"role": "user", "content": content}], tools=[{"type": "memory_20250818", "name": "memory"}]
    )

    request = parse_messages_request(sent, {})

    assert request.messages == (Message(Role.TOOL, (), tool_call_id="t"), Message(Role.USER, "and this"))
    assert request.tools == ()
    assert untranslated_fields(sent) == (
        "tools.0",
        "messages.0.content.0",
        "messages.0.content.1",
        "messages.0.content.2",
    )


def test_a_turn_of_only_untranslatable_blocks_stays_an_empty_turn() -> None:
    content = [
        {"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": "x"}]}
    ]

    request = parse(messages=[{"role": "user", "content": content}])

    assert request.messages == (Message(Role.USER, ()),)


# --- refusals --------------------------------------------------------------------------------------------

REFUSED: list[tuple[dict[str, Any], str]] = [
    (body(model=...), "model"),
    (body(model=""), "model"),
    (body(model=7), "model"),
    (body(max_tokens="256"), "max_tokens"),
    (body(max_tokens=True), "max_tokens"),
    (body(max_tokens=0), "max_tokens"),
    (body(max_tokens=2.5), "max_tokens"),
    (body(messages=...), "messages"),
    (body(messages=[]), "messages"),
    (body(messages={"role": "user"}), "messages"),
    (body(messages=[None]), "messages.0"),
    (body(messages=[{"content": "x"}]), "messages.0.role"),
    (body(messages=[{"role": "tool", "content": "x"}]), "messages.0.role"),
    (body(messages=[{"role": ["user"], "content": "x"}]), "messages.0.role"),
    (body(messages=[{"role": "user"}]), "messages.0.content"),
    (body(messages=[{"role": "user", "content": ""}]), "messages.0.content"),
    (body(messages=[{"role": "user", "content": []}]), "messages.0.content"),
    (body(messages=[{"role": "assistant", "content": ""}, *HI]), "messages.0.content"),
    (body(messages=[{"role": "user", "content": {"text": "x"}}]), "messages.0.content"),
    (body(messages=[{"role": "user", "content": [None]}]), "messages.0.content.0"),
    (body(messages=[{"role": "user", "content": [{"text": "x"}]}]), "messages.0.content.0.type"),
    (body(messages=[{"role": "user", "content": [{"type": 3}]}]), "messages.0.content.0.type"),
    (
        body(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
        "messages.0.content.0.type",
    ),
    (body(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages.0.content.0.text"),
    (
        body(messages=[{"role": "user", "content": [{"type": "text", "text": ["x"]}]}]),
        "messages.0.content.0.text",
    ),
    (
        body(
            messages=[
                {"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
            ]
        ),
        "messages.0.content.0.type",
    ),
    (
        body(messages=[{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]),
        "messages.0.content.0.type",
    ),
    (
        body(messages=[{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]),
        "messages.0.content.0.id",
    ),
    (
        body(
            messages=[
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}],
                }
            ]
        ),
        "messages.0.content.0.input",
    ),
    (
        body(messages=[{"role": "assistant", "content": [{"type": "thinking", "signature": "s"}]}]),
        "messages.0.content.0.thinking",
    ),
    (
        body(messages=[{"role": "assistant", "content": [{"type": "redacted_thinking"}]}]),
        "messages.0.content.0.data",
    ),
    (
        body(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": ""}]}]),
        "messages.0.content.0.tool_use_id",
    ),
    (
        body(
            messages=[
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]}
            ]
        ),
        "messages.0.content.0.is_error",
    ),
    (
        body(
            messages=[
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 5}]}
            ]
        ),
        "messages.0.content.0.content",
    ),
    (
        body(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": ["x"]}]}],
                }
            ]
        ),
        "messages.0.content.0.content.0.type",
    ),
    (body(messages=[{"role": "user", "content": [{"type": "image"}]}]), "messages.0.content.0.source"),
    (
        body(
            messages=[
                {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "x"}}]}
            ]
        ),
        "messages.0.content.0.source.media_type",
    ),
    (
        body(
            messages=[
                {"role": "user", "content": [{"type": "image", "source": {"type": "text", "data": "x"}}]}
            ]
        ),
        "messages.0.content.0.source.type",
    ),
    (
        body(messages=[{"role": "user", "content": [{"type": "document", "source": {"type": "url"}}]}]),
        "messages.0.content.0.source.url",
    ),
    (
        body(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "document", "source": {"type": "url", "url": "u"}, "title": 1}],
                }
            ]
        ),
        "messages.0.content.0.title",
    ),
    (
        body(
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "source": {"type": "content", "content": [{"type": "video"}]}}
                    ],
                }
            ]
        ),
        "messages.0.content.0.source.content.0.type",
    ),
    (body(system=5), "system"),
    (body(system=[{"type": "image"}]), "system.0.type"),
    (body(system=["text"]), "system.0"),
    (body(tools={"name": "f"}), "tools"),
    (body(tools=[None]), "tools.0"),
    (body(tools=[{"input_schema": {}}]), "tools.0.name"),
    (body(tools=[{"name": "f"}]), "tools.0.input_schema"),
    (body(tools=[{"name": "f", "input_schema": "{}"}]), "tools.0.input_schema"),
    (body(tools=[{"name": "f", "input_schema": {}, "description": 3}]), "tools.0.description"),
    (body(tools=[{"name": "f", "input_schema": {}, "type": 2}]), "tools.0.type"),
    (body(tools=[TOOL, TOOL]), "tools"),
    (body(tool_choice="auto"), "tool_choice"),
    (body(tool_choice={}), "tool_choice.type"),
    (body(tool_choice={"type": "required"}), "tool_choice.type"),
    (body(tool_choice={"type": "any"}), "tool_choice"),
    (body(tools=[TOOL], tool_choice={"type": "tool"}), "tool_choice.name"),
    (body(tools=[TOOL], tool_choice={"type": "tool", "name": "other"}), "tool_choice.name"),
    (
        body(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": "yes"}),
        "tool_choice.disable_parallel_tool_use",
    ),
    (body(temperature=1.5), "temperature"),
    (body(temperature="hot"), "temperature"),
    (body(temperature=float("nan")), "temperature"),
    (body(top_p=2), "top_p"),
    (body(top_p=[0.5]), "top_p"),
    (body(top_k=0.5), "top_k"),
    (body(top_k=0), "top_k"),
    (body(stop_sequences="END"), "stop_sequences"),
    (body(stop_sequences=["END", 3]), "stop_sequences.1"),
    (body(metadata="u"), "metadata"),
    (body(metadata={"user_id": 5}), "metadata.user_id"),
    (body(stream="true"), "stream"),
    (body(thinking=True), "thinking"),
    (body(thinking={"type": "enabled"}), "thinking.budget_tokens"),
    (body(thinking={"type": "enabled", "budget_tokens": "1024"}), "thinking.budget_tokens"),
    (body(thinking={"type": "enabled", "budget_tokens": 0}), "thinking.budget_tokens"),
    (body(thinking={"type": "on"}), "thinking.type"),
    (body(thinking={}), "thinking.type"),
    (body(output_config=[]), "output_config"),
    (body(output_config={"effort": "extreme"}), "output_config.effort"),
    (body(output_config={"effort": ["low"]}), "output_config.effort"),
    (body(output_config={"format": {"type": "json_object"}}), "output_config.format.type"),
    (body(output_config={"format": {"type": "json_schema"}}), "output_config.format.schema"),
    (body(num_retries="2"), "num_retries"),
    (body(drop_params=1), "drop_params"),
    (body(timeout=True), "timeout"),
    (body(mock_response=["x"]), "mock_response"),
]


@pytest.mark.parametrize(("payload", "param"), REFUSED, ids=[param for _, param in REFUSED])
def test_an_invalid_field_is_refused_naming_it(payload: dict[str, Any], param: str) -> None:
    error = refusal(payload)

    assert error.status_code == 400
    assert error.param == param
    assert param in error.message


def _deep(levels: int) -> list[Any]:
    nested: list[Any] = []
    for _ in range(levels):
        nested = [nested]
    return nested


GARBAGE: list[object] = [
    None,
    True,
    0,
    "",
    "{}",
    [],
    [body()],
    {},
    {"model": None, "messages": None},
    {"model": "m", "max_tokens": 1, "messages": _deep(10_000)},
    {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": _deep(10_000)}]},
    {"model": _deep(10_000), "max_tokens": 1, "messages": HI},
    body(
        messages=[
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": _deep(5000)}]}
        ]
    ),
    body(messages=[{"role": "user", "content": [{"type": {"nested": "type"}}]}]),
    body(
        messages=[
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": {}}]}],
            }
        ]
    ),
    body(tools=[{"type": ["web_search"], "name": "w"}]),
    body(output_config={"effort": {"level": "max"}}),
    body(thinking={"type": ["enabled"]}),
    body(tool_choice={"type": {"auto": True}}),
]


@pytest.mark.parametrize("payload", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_is_a_bad_request_never_a_crash(payload: object) -> None:
    with pytest.raises(BadRequestError):
        parse_messages_request(payload, {})
    with pytest.raises(BadRequestError):
        parse_count_tokens_request(payload, {})


def test_mutated_valid_requests_are_requests_or_bad_requests() -> None:
    rng = random.Random(6)
    base = body(
        system=[{"type": "text", "text": "s"}],
        tools=[TOOL],
        tool_choice={"type": "auto"},
        messages=[
            HI[0],
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {"city": "P"}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "r"}]}
                ],
            },
        ],
    )
    replacements: list[object] = [None, 0, -1, 1.5, "", "x", [], {}, [None], {"type": "text"}, True]
    for _ in range(3000):
        mutated = copy.deepcopy(base)
        node: Any = mutated
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = rng.choice(keys)
            if isinstance(node[key], dict | list) and rng.random() < 0.7:
                node = node[key]
                continue
            node[key] = rng.choice(replacements)
            break
        with contextlib.suppress(BadRequestError):
            parse_messages_request(mutated, {})
