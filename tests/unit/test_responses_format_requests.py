"""Responses API requests into domain chat requests: every field's translation, the conversation a request
continues, what only a Responses-API deployment can serve, and any JSON at all either a request or a
BadRequestError naming the field the way OpenAI does."""

from __future__ import annotations

import base64
import contextlib
import copy
import random
import re
from typing import Any

import pytest

from adapters.responses_format import FORMAT, completion_request, parse_responses_request
from adapters.responses_format.items import REDACTED
from domain.completions import CompletionRequest, ReasoningEffort
from domain.errors import BadRequestError
from domain.messages import (
    DocumentPart,
    ImageDetail,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
    ToolChoiceMode,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": True,
}
# The freeform tool Codex gives GPT-5 models for editing files.
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files.",
    "format": {
        "type": "grammar",
        "syntax": "lark",
        "definition": 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF',
    },
}
GITHUB = {
    "type": "namespace",
    "name": "github",
    "description": "The GitHub MCP server",
    "tools": [
        {"type": "function", "name": "create_issue", "parameters": {"type": "object", "properties": {}}},
        {"type": "custom", "name": "run_query", "description": "GraphQL"},
    ],
}


def body(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"model": "gpt-5", "input": "Hi"}
    out.update(fields)
    return {name: value for name, value in out.items() if value is not ...}


def request(history: list[dict[str, Any]] | None = None, **fields: Any) -> CompletionRequest:
    return completion_request(parse_responses_request(body(**fields)), history or [])


def refusal(payload: object, history: list[dict[str, Any]] | None = None) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        completion_request(parse_responses_request(payload), history or [])
    return caught.value


def message(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": list(parts)}


def text(value: str, kind: str = "input_text") -> dict[str, Any]:
    return {"type": kind, "text": value}


def test_a_string_input_is_one_user_message_kept_as_an_item_with_a_message_id() -> None:
    call = parse_responses_request(body())
    translated = completion_request(call, [])

    assert translated.model == "gpt-5"
    assert translated.messages == (Message(Role.USER, "Hi"),)
    (item,) = call.input_items
    assert re.fullmatch(r"msg_[0-9a-f]{48}", item["id"])
    assert {**item, "id": "x"} == {
        "id": "x",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Hi"}],
    }
    assert call.store is True and call.background is False and call.stream is False
    assert call.previous_response_id is None and call.include == frozenset()


def test_instructions_come_first_as_the_system_message() -> None:
    translated = request(instructions="Answer in French.", input=[message("developer", text("Be brief."))])

    assert translated.messages == (
        Message(Role.SYSTEM, "Answer in French."),
        Message(Role.DEVELOPER, "Be brief."),
    )


def test_items_without_an_id_get_one_whose_prefix_names_their_type_and_ids_sent_are_kept() -> None:
    call = parse_responses_request(
        body(
            input=[
                {"role": "user", "content": "What is the weather?"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
                {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "x"},
                {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Done"},
                {"type": "reasoning", "summary": [], "encrypted_content": "sig"},
                {"id": "msg_mine", "type": "message", "role": "assistant", "content": "Sunny."},
            ]
        )
    )

    prefixes = [item["id"].split("_", 1)[0] for item in call.input_items]
    assert prefixes == ["msg", "fc", "fco", "ctc", "ctco", "rs", "msg"]
    assert call.input_items[-1]["id"] == "msg_mine"
    assert call.input_items[-1]["content"] == [{"type": "output_text", "text": "Sunny.", "annotations": []}]
    assert call.input_items[0]["type"] == "message"


def test_content_parts_become_text_images_and_documents() -> None:
    pdf = base64.b64encode(b"%PDF-1.7").decode()
    notes = base64.b64encode(b"notes").decode()
    translated = request(
        input=[
            message(
                "user",
                text("Look:"),
                {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                {"type": "input_file", "filename": "paper.pdf", "file_data": pdf},
                {"type": "input_file", "filename": "notes.txt", "file_data": notes},
                {"type": "input_file", "file_data": f"data:application/pdf;base64,{pdf}"},
                {"type": "input_file", "file_url": "https://example.com/paper.pdf"},
            )
        ]
    )

    assert translated.messages[0].content == (
        TextPart("Look:"),
        ImagePart("https://example.com/cat.png", ImageDetail.LOW),
        ImagePart("data:image/png;base64,iVBORw0KGgo=", ImageDetail.AUTO),
        DocumentPart(f"data:application/pdf;base64,{pdf}", "paper.pdf"),
        DocumentPart(f"data:text/plain;base64,{notes}", "notes.txt"),
        DocumentPart(f"data:application/pdf;base64,{pdf}"),
        DocumentPart("https://example.com/paper.pdf"),
    )


def test_uploaded_files_are_left_to_a_responses_deployment_and_named_for_any_other() -> None:
    translated = request(
        input=[
            message(
                "user",
                text("Compare"),
                {"type": "input_image", "file_id": "file-1", "detail": "auto"},
                {"type": "input_file", "file_id": "file-2"},
            )
        ]
    )

    assert translated.messages == (Message(Role.USER, "Compare"),)
    assert translated.native is not None
    assert translated.native.untranslated == ("input[0].content[1].file_id", "input[0].content[2].file_id")


def test_the_assistants_items_in_a_row_fold_into_one_message_and_their_results_follow() -> None:
    translated = request(
        input=[
            message("user", text("Weather in Paris and Rome?")),
            {"type": "reasoning", "id": "rs_1", "summary": [text("Two cities.", "summary_text")]},
            message("assistant", text("Checking both.", "output_text")),
            {
                "type": "function_call",
                "call_id": "call_p",
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
            },
            {
                "type": "function_call",
                "call_id": "call_r",
                "name": "get_weather",
                "arguments": '{"city":"Rome"}',
            },
            {"type": "function_call_output", "call_id": "call_p", "output": "Sunny"},
            {"type": "function_call_output", "call_id": "call_r", "output": [text("Rain")]},
        ],
        tools=[WEATHER],
    )

    assert translated.messages == (
        Message(Role.USER, "Weather in Paris and Rome?"),
        Message(
            Role.ASSISTANT,
            "Checking both.",
            tool_calls=(
                ToolCall("call_p", "get_weather", '{"city":"Paris"}'),
                ToolCall("call_r", "get_weather", '{"city":"Rome"}'),
            ),
            reasoning_content="Two cities.",
            thinking_blocks=(ThinkingBlock("Two cities."),),
        ),
        Message(Role.TOOL, "Sunny", tool_call_id="call_p"),
        Message(Role.TOOL, "Rain", tool_call_id="call_r"),
    )


def test_the_history_comes_before_the_input_and_folds_across_the_boundary() -> None:
    history = [
        {"id": "msg_1", "type": "message", "role": "user", "content": [text("Weather?")]},
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [text("Need a tool.", "summary_text")],
            "encrypted_content": "EqQBsig==",
        },
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": "{}",
        },
    ]

    translated = request(
        history,
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "Sunny"}],
        instructions="Be brief.",
    )

    assert translated.messages == (
        Message(Role.SYSTEM, "Be brief."),
        Message(Role.USER, "Weather?"),
        Message(
            Role.ASSISTANT,
            tool_calls=(ToolCall("call_1", "get_weather", "{}"),),
            reasoning_content="Need a tool.",
            thinking_blocks=(ThinkingBlock("Need a tool.", "EqQBsig=="),),
        ),
        Message(Role.TOOL, "Sunny", tool_call_id="call_1"),
    )


def test_reasoning_text_wins_over_its_summary_and_a_redacted_block_comes_back_whole() -> None:
    translated = request(
        input=[
            message("user", text("Go")),
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [text("Short.", "summary_text")],
                "content": [text("The long way.", "reasoning_text")],
            },
            {"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": REDACTED + "opaque=="},
            message("assistant", text("Done", "output_text")),
        ]
    )

    assert translated.messages[1].thinking_blocks == (
        ThinkingBlock("The long way."),
        ThinkingBlock(redacted="opaque=="),
    )
    assert translated.messages[1].reasoning_content == "The long way."


def test_a_custom_tool_is_a_function_of_one_string_argument_and_its_calls_carry_that_argument() -> None:
    translated = request(
        input=[
            message("user", text("Fix the bug")),
            {
                "type": "custom_tool_call",
                "call_id": "call_1",
                "name": "apply_patch",
                "input": "*** Begin Patch",
            },
            {"type": "custom_tool_call_output", "call_id": "call_1", "output": "Applied"},
        ],
        tools=[APPLY_PATCH],
    )

    (tool,) = translated.tools
    assert tool.name == "apply_patch"
    assert tool.parameters is not None and tool.parameters["required"] == ["input"]
    assert tool.description is not None
    assert tool.description.startswith("Use the `apply_patch` tool to edit files.")
    assert "lark grammar" in tool.description and APPLY_PATCH["format"]["definition"] in tool.description
    assert translated.messages[1].tool_calls == (
        ToolCall("call_1", "apply_patch", '{"input":"*** Begin Patch"}'),
    )
    assert translated.messages[2] == Message(Role.TOOL, "Applied", tool_call_id="call_1")


def test_a_namespaces_tools_are_flattened_under_names_every_provider_takes() -> None:
    long = {
        "type": "namespace",
        "name": "a.very.long.namespace.name.that.goes.on",
        "description": "",
        "tools": [
            {"type": "function", "name": "and_a_long_tool_name_too_" + "x" * 30},
            {"type": "function", "name": "and_a_long_tool_name_too_" + "y" * 30},
        ],
    }

    call = parse_responses_request(body(tools=[GITHUB, long]))
    names = [tool.name for tool in call.translation.tools]

    assert names[:2] == ["github__create_issue", "github__run_query"]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name) for name in names)
    assert len(set(names)) == 4
    assert call.tools.original("github__run_query").custom is True
    assert call.tools.original("github__create_issue").namespace == "github"


def test_a_namespaced_call_in_the_conversation_is_named_as_its_flattened_tool() -> None:
    translated = request(
        input=[
            message("user", text("File it")),
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "create_issue",
                "namespace": "github",
                "arguments": "{}",
            },
        ],
        tools=[GITHUB],
    )

    assert translated.messages[1].tool_calls == (ToolCall("call_1", "github__create_issue", "{}"),)


def test_hosted_tools_are_left_out_and_named_once_per_kind() -> None:
    translated = request(
        tools=[
            {"type": "web_search"},
            WEATHER,
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
            {"type": "web_search"},
            {"type": "apply_patch"},
            {"type": "mcp", "server_label": "x", "server_url": "https://mcp.example.com"},
        ]
    )

    assert [tool.name for tool in translated.tools] == ["get_weather"]
    assert translated.native is not None
    assert translated.native.left_out == (
        "tools.web_search",
        "tools.file_search",
        "tools.apply_patch",
        "tools.mcp",
    )
    assert translated.native.untranslated == ()


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", ToolChoiceMode.AUTO),
        ("none", ToolChoiceMode.NONE),
        ("required", ToolChoiceMode.REQUIRED),
        ({"type": "function", "name": "get_weather"}, NamedToolChoice("get_weather")),
        ({"type": "custom", "name": "apply_patch"}, NamedToolChoice("apply_patch")),
        ({"type": "function", "name": "create_issue"}, NamedToolChoice("github__create_issue")),
        ({"type": "web_search_preview"}, ToolChoiceMode.AUTO),
        ({"type": "mcp", "server_label": "deepwiki"}, ToolChoiceMode.AUTO),
    ],
)
def test_tool_choice_is_translated(choice: object, expected: object) -> None:
    translated = request(tools=[WEATHER, APPLY_PATCH, GITHUB], tool_choice=choice)

    assert translated.tool_choice == expected
    assert len(translated.tools) == 4


def test_allowed_tools_restrict_the_tools_sent() -> None:
    translated = request(
        tools=[WEATHER, APPLY_PATCH, {"type": "web_search"}],
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "get_weather"}, {"type": "web_search"}],
        },
    )

    assert [tool.name for tool in translated.tools] == ["get_weather"]
    assert translated.tool_choice is ToolChoiceMode.REQUIRED


def test_a_choice_with_only_hosted_tools_is_no_choice_at_all() -> None:
    translated = request(tools=[{"type": "web_search"}], tool_choice="required")

    assert translated.tools == () and translated.tool_choice is None


def test_text_format_is_the_response_format_and_verbosity_is_a_hint_a_translation_leaves_out() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    translated = request(
        text={
            "format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": True},
            "verbosity": "low",
        }
    )

    assert translated.response_format == ResponseFormat(
        ResponseFormatType.JSON_SCHEMA, name="answer", schema=schema, strict=True
    )
    assert translated.extra_body == {}
    assert translated.native is not None and translated.native.body["text"]["verbosity"] == "low"
    assert request(text={"format": {"type": "json_object"}}).response_format == ResponseFormat(
        ResponseFormatType.JSON_OBJECT
    )
    assert request(text={"format": {"type": "text"}}).response_format is None


def test_sampling_and_reasoning_settings_become_params() -> None:
    translated = request(
        reasoning={"effort": "high", "summary": "auto"},
        max_output_tokens=500,
        temperature=0.2,
        top_p=0.9,
        parallel_tool_calls=False,
        safety_identifier="user-hash",
        top_logprobs=3,
        metadata={"run": "7"},
    )

    params = translated.params
    assert params.reasoning_effort is ReasoningEffort.HIGH
    assert params.max_completion_tokens == 500
    assert (params.temperature, params.top_p, params.parallel_tool_calls) == (0.2, 0.9, False)
    assert params.user == "user-hash"
    assert (params.logprobs, params.top_logprobs) == (True, 3)
    assert translated.metadata == {"run": "7"}
    assert request(reasoning={"effort": "max"}).params.reasoning_effort is ReasoningEffort.XHIGH
    assert request(user="u1", safety_identifier="s1").params.user == "u1"


def test_hints_are_left_out_and_unknown_fields_pass_through() -> None:
    translated = request(
        include=["reasoning.encrypted_content"],
        store=False,
        background=False,
        prompt_cache_key="thread-1",
        service_tier="flex",
        truncation="auto",
        client_metadata={"x": "y"},
        stream_options={"include_obfuscation": False},
        prompt_cache_retention="24h",
        context_management=[{"type": "compaction"}],
        seed=7,
    )

    assert translated.extra_body == {"seed": 7}


def test_gateway_controls_are_read_and_never_sent_to_a_responses_deployment() -> None:
    translated = request(fallbacks=["gpt-4o"], num_retries=2, mock_response="Hello!", tags=["a"])

    assert translated.controls == {"fallbacks": ["gpt-4o"], "num_retries": 2, "tags": ["a"]}
    assert translated.mock_response == "Hello!"
    assert translated.native is not None
    assert translated.native.body == {"model": "gpt-5", "input": "Hi"}
    assert refusal(body(num_retries="2")).param == "num_retries"


def test_a_stream_always_asks_for_usage() -> None:
    call = parse_responses_request(body(stream=True))
    translated = completion_request(call, [])

    assert call.stream is True
    assert translated.stream is True and translated.include_usage is True
    assert request().include_usage is True


def test_the_native_body_is_the_request_as_sent_when_it_continues_nothing() -> None:
    sent = body(tools=[WEATHER, {"type": "web_search"}], include=["reasoning.encrypted_content"])
    translated = completion_request(parse_responses_request(sent), [])

    assert translated.native is not None
    assert translated.native.format == FORMAT == "responses"
    assert translated.native.body is sent


def test_the_native_body_holds_the_conversation_inline_instead_of_the_previous_response() -> None:
    history = [
        {"id": "msg_1", "type": "message", "role": "user", "content": [text("Hi")]},
        {"id": "msg_2", "type": "message", "role": "assistant", "status": "completed", "content": []},
    ]
    sent = body(input="And now?", previous_response_id="resp_1", background=True, store=True)

    translated = completion_request(parse_responses_request(sent), history)

    assert translated.native is not None
    native = translated.native.body
    assert "previous_response_id" not in native and "background" not in native
    assert native["store"] is True
    assert native["input"][:2] == history
    assert native["input"][2]["role"] == "user"
    assert native["input"][2]["content"] == [text("And now?")]
    assert sent["input"] == "And now?"  # the body as sent is untouched


def test_an_item_reference_stands_for_the_item_it_names() -> None:
    history = [
        {"id": "msg_1", "type": "message", "role": "user", "content": [text("Remember this")]},
        {"id": "msg_2", "type": "message", "role": "assistant", "content": [text("Noted", "output_text")]},
    ]

    translated = request(
        history, input=[{"type": "item_reference", "id": "msg_1"}, message("user", text("?"))]
    )

    assert translated.messages == (
        Message(Role.USER, "Remember this"),
        Message(Role.ASSISTANT, "Noted"),
        Message(Role.USER, "Remember this"),
        Message(Role.USER, "?"),
    )
    assert translated.native is not None
    assert translated.native.body["input"][2] == history[0]
    error = refusal(body(input=[{"type": "item_reference", "id": "msg_404"}]), history)
    assert error.param == "input[0].id"


def test_items_of_hosted_tools_are_named_for_deployments_that_cannot_read_them() -> None:
    search = {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "search"}}
    translated = request(
        [
            search,
            {"id": "x_1", "type": "a_kind_from_the_future"},
            message("assistant", text("Found it", "output_text")),
        ],
        input=[message("user", text("More")), {**search, "id": "ws_2"}],
    )

    assert translated.messages == (Message(Role.ASSISTANT, "Found it"), Message(Role.USER, "More"))
    assert translated.native is not None
    assert translated.native.untranslated == ("previous_response_id", "input[1]")


def test_a_request_with_nothing_to_answer_is_refused_naming_the_input() -> None:
    assert refusal(body(input=...)).param == "input"
    assert refusal(body(input=[])).param == "input"


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ([], None),
        (body(model=...), "model"),
        (body(model=""), "model"),
        (body(model=7), "model"),
        (body(input=7), "input"),
        (body(input={"role": "user"}), "input"),
        (body(input=[None]), "input[0]"),
        (body(input=[{}]), "input[0].type"),
        (body(input=[{"type": "telepathy"}]), "input[0].type"),
        (body(input=[{"role": "robot", "content": "x"}]), "input[0].role"),
        (body(input=[{"role": "user"}]), "input[0].content"),
        (body(input=[{"role": "user", "content": 3}]), "input[0].content"),
        (body(input=[message("user", {"type": "input_image"})]), "input[0].content[0].image_url"),
        (
            body(input=[message("user", {"type": "input_image", "image_url": 5})]),
            "input[0].content[0].image_url",
        ),
        (body(input=[message("user", text("a"), {"type": "input_audio"})]), "input[0].content[1].type"),
        (body(input=[message("user", {"type": "input_file"})]), "input[0].content[0].file_data"),
        (
            body(input=[message("assistant", {"type": "input_image", "image_url": "x"})]),
            "input[0].content[0].type",
        ),
        (body(input=[{"type": "function_call", "name": "f", "arguments": "{}"}]), "input[0].call_id"),
        (
            body(input=[{"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]),
            "input[0].arguments",
        ),
        (body(input=[{"type": "function_call_output", "call_id": "c"}]), "input[0].output"),
        (body(input=[{"type": "function_call_output", "call_id": "", "output": "x"}]), "input[0].call_id"),
        (body(input=[{"type": "reasoning", "summary": [{"type": "nope"}]}]), "input[0].summary[0].type"),
        (body(input=[{"type": "item_reference", "id": 3}]), "input[0].id"),
        (body(instructions=["x"]), "instructions"),
        (body(tools={}), "tools"),
        (body(tools=[None]), "tools[0]"),
        (body(tools=[{"name": "f"}]), "tools[0].type"),
        (body(tools=[{"type": "function", "name": "bad name"}]), "tools[0].name"),
        (body(tools=[{"type": "function", "name": "f", "parameters": []}]), "tools[0].parameters"),
        (body(tools=[WEATHER, WEATHER]), "tools[1].name"),
        (
            body(tools=[{"type": "custom", "name": "c", "format": {"type": "grammar", "syntax": "x"}}]),
            "tools[0].format.syntax",
        ),
        (body(tools=[{"type": "namespace", "name": "n", "description": ""}]), "tools[0].tools"),
        (body(tools=[{**GITHUB, "tools": [{"type": "web_search"}]}]), "tools[0].tools[0].type"),
        (body(tool_choice="sometimes"), "tool_choice"),
        (body(tools=[WEATHER], tool_choice={"type": "function", "name": "nope"}), "tool_choice.name"),
        (
            body(tools=[WEATHER], tool_choice={"type": "allowed_tools", "mode": "any", "tools": []}),
            "tool_choice.mode",
        ),
        (body(text="json"), "text"),
        (body(text={"format": {"type": "yaml"}}), "text.format.type"),
        (body(text={"format": {"type": "json_schema", "name": "a"}}), "text.format.schema"),
        (body(reasoning={"effort": "extreme"}), "reasoning.effort"),
        (body(max_output_tokens=0), "max_output_tokens"),
        (body(max_output_tokens=1.5), "max_output_tokens"),
        (body(temperature="hot"), "temperature"),
        (body(temperature=3), "temperature"),
        (body(top_logprobs=21), "top_logprobs"),
        (body(stream="yes"), "stream"),
        (body(store=1), "store"),
        (body(include="all"), "include"),
        (body(include=[1]), "include[0]"),
        (body(metadata=[]), "metadata"),
        (body(previous_response_id=""), "previous_response_id"),
        (body(user=5), "user"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(payload: object, param: str | None) -> None:
    assert refusal(payload).param == param


GARBAGE_VALUES: list[Any] = [None, True, 0, -1, 1.5, float("nan"), "", "x", [], [None], {}, {"type": None}]


def test_any_mutation_of_a_full_request_is_a_request_or_a_bad_request() -> None:
    rng = random.Random(11)
    base = body(
        instructions="s",
        input=[
            message(
                "user", text("a"), {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"}
            ),
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [text("t", "summary_text")],
                "encrypted_content": "e",
            },
            {"type": "function_call", "call_id": "c", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": [text("o")]},
            {"type": "custom_tool_call", "call_id": "d", "name": "apply_patch", "input": "p"},
            {"type": "item_reference", "id": "rs_1"},
        ],
        tools=[WEATHER, APPLY_PATCH, GITHUB, {"type": "web_search"}],
        tool_choice={
            "type": "allowed_tools",
            "mode": "auto",
            "tools": [{"type": "function", "name": "get_weather"}],
        },
        text={"format": {"type": "json_schema", "name": "a", "schema": {}}, "verbosity": "low"},
        reasoning={"effort": "low"},
        max_output_tokens=10,
        metadata={"a": "b"},
        num_retries=1,
    )
    for _ in range(3000):
        mutated = copy.deepcopy(base)
        node: Any = mutated
        while True:
            key = rng.randrange(len(node)) if isinstance(node, list) else rng.choice(list(node))
            if isinstance(node[key], dict | list) and node[key] and rng.random() < 0.7:
                node = node[key]
                continue
            node[key] = rng.choice(GARBAGE_VALUES)
            break
        with contextlib.suppress(BadRequestError):
            completion_request(parse_responses_request(mutated), [])
