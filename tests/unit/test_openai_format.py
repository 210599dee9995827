"""The OpenAI wire codec, request side: client bodies validated into domain requests, and domain
requests written as upstream bodies."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import orjson
import pytest

from adapters.openai_format import (
    chat_request_body,
    parse_chat_request,
)
from domain.completions import ReasoningEffort
from domain.errors import BadRequestError, UnsupportedParameterError
from domain.messages import (
    ImageDetail,
    ImagePart,
    NamedToolChoice,
    ResponseFormatType,
    Role,
    TextPart,
    ToolCall,
    ToolChoiceMode,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def chat(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-x",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hello!"},
        ],
    }
    body.update(fields)
    return body


def test_a_minimal_request_becomes_a_domain_request_with_nothing_else_set() -> None:
    request = parse_chat_request(chat())

    assert request.model == "gpt-x"
    assert [(m.role, m.content) for m in request.messages] == [
        (Role.SYSTEM, "You are terse."),
        (Role.USER, "Hello!"),
    ]
    assert request.tools == () and request.tool_choice is None and request.response_format is None
    assert not request.stream and not request.include_usage
    assert request.extra_body == {} and request.controls == {} and request.metadata == {}


def test_content_parts_keep_text_and_images_with_their_detail() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]

    request = parse_chat_request(chat(messages=[{"role": "user", "content": parts, "name": "ada"}]))

    (message,) = request.messages
    assert message.name == "ada"
    assert message.content == (
        TextPart("What is this?"),
        ImagePart("data:image/png;base64,iVBORw0KGgo=", ImageDetail.HIGH),
        ImagePart("https://example.com/cat.jpg"),
    )


def test_a_tool_conversation_keeps_calls_and_the_ids_that_answer_them() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "12C"},
    ]

    request = parse_chat_request(chat(messages=messages, tools=[WEATHER], tool_choice="auto"))

    assert request.messages[1].tool_calls == (ToolCall("call_1", "get_weather", '{"city":"Oslo"}'),)
    assert request.messages[2].tool_call_id == "call_1"
    assert request.tools[0].name == "get_weather"
    assert request.tools[0].parameters == WEATHER["function"]["parameters"]
    assert request.tool_choice is ToolChoiceMode.AUTO


def test_a_named_tool_choice_names_the_function() -> None:
    choice = {"type": "function", "function": {"name": "get_weather"}}

    request = parse_chat_request(chat(tools=[WEATHER], tool_choice=choice))

    assert request.tool_choice == NamedToolChoice("get_weather")


def test_legacy_functions_become_tools_and_function_call_the_tool_choice() -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": "{}"}},
        {"role": "function", "name": "get_weather", "content": "12C"},
    ]

    request = parse_chat_request(
        chat(messages=messages, functions=[WEATHER["function"]], function_call={"name": "get_weather"})
    )

    assert [tool.name for tool in request.tools] == ["get_weather"]
    assert request.tool_choice == NamedToolChoice("get_weather")
    (call,) = request.messages[1].tool_calls
    assert request.messages[2].role is Role.TOOL
    assert request.messages[2].tool_call_id == call.id


@pytest.mark.parametrize("kind", ["text", "json_object"])
def test_a_plain_response_format_keeps_its_type(kind: str) -> None:
    request = parse_chat_request(chat(response_format={"type": kind}))

    assert request.response_format is not None
    assert request.response_format.type == kind


def test_a_json_schema_response_format_keeps_name_schema_strict_and_description() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True, "description": "An answer"},
    }

    request = parse_chat_request(chat(response_format=response_format))

    fmt = request.response_format
    assert fmt is not None and fmt.type is ResponseFormatType.JSON_SCHEMA
    assert (fmt.name, fmt.schema, fmt.strict, fmt.description) == ("answer", schema, True, "An answer")


def test_every_sampling_parameter_is_read() -> None:
    request = parse_chat_request(
        chat(
            temperature=1,
            top_p=0.9,
            max_tokens=100,
            max_completion_tokens=120,
            stop="END",
            n=2,
            seed=42,
            presence_penalty=-0.5,
            frequency_penalty=0.5,
            logit_bias={"50256": -100},
            logprobs=True,
            top_logprobs=3,
            user="u-1",
            parallel_tool_calls=False,
            reasoning_effort="high",
        )
    )

    params = request.params
    assert (params.temperature, params.top_p, params.max_tokens, params.max_completion_tokens) == (
        1,
        0.9,
        100,
        120,
    )
    assert params.stop == ("END",)
    assert (params.n, params.seed, params.presence_penalty, params.frequency_penalty) == (2, 42, -0.5, 0.5)
    assert params.logit_bias == {"50256": -100}
    assert (params.logprobs, params.top_logprobs, params.user) == (True, 3, "u-1")
    assert params.parallel_tool_calls is False
    assert params.reasoning_effort is ReasoningEffort.HIGH


def test_stop_may_be_a_list_and_an_empty_one_means_none() -> None:
    assert parse_chat_request(chat(stop=["a", "b"])).params.stop == ("a", "b")
    assert parse_chat_request(chat(stop=[])).params.stop is None


def test_stream_options_ask_for_usage() -> None:
    request = parse_chat_request(chat(stream=True, stream_options={"include_usage": True}))

    assert request.stream and request.include_usage


def test_gateway_controls_stay_home_and_unknown_fields_travel_upstream() -> None:
    request = parse_chat_request(
        chat(
            cache={"no-cache": True},
            fallbacks=["gpt-y"],
            num_retries=2,
            tags=["team-a"],
            caching=False,
            ttl=60,
            metadata={"trace": "t-1"},
            mock_response="Hi",
            store=True,
            prediction={"type": "content", "content": "x"},
        )
    )

    assert request.controls == {
        "cache": {"no-cache": True},
        "fallbacks": ["gpt-y"],
        "num_retries": 2,
        "tags": ["team-a"],
        "caching": False,
        "ttl": 60,
    }
    assert request.metadata == {"trace": "t-1"}
    assert request.mock_response == "Hi"
    assert request.extra_body == {"store": True, "prediction": {"type": "content", "content": "x"}}


def _with(path: str, value: Any) -> dict[str, Any]:
    """A valid body with the value at a dotted path ("messages.1.content") replaced; "-" deletes."""
    body = chat(tools=[copy.deepcopy(WEATHER)])
    *parents, last = path.split(".")
    target: Any = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    key: Any = int(last) if isinstance(target, list) else last
    if value == "-":
        del target[key]
    else:
        target[key] = value
    return body


INVALID = [
    ("model", "-", "model", "Missing required parameter"),
    ("model", "", "model", "empty string"),
    ("model", 5, "model", "expected a string, but got an integer"),
    ("messages", "-", "messages", "Missing"),
    ("messages", [], "messages", "empty array"),
    ("messages", {"role": "user"}, "messages", "expected an array"),
    ("messages.1", "hi", "messages[1]", "expected an object"),
    ("messages.0.role", "robot", "messages[0].role", "Supported values"),
    ("messages.0.role", "-", "messages[0].role", "Missing"),
    ("messages.1.content", 5, "messages[1].content", "a string or an array of content parts"),
    ("messages.1.content", None, "messages[1].content", "Missing"),
    ("messages.1.content", [], "messages[1].content", "empty array"),
    ("messages.1.content", [{"type": "video"}], "messages[1].content[0].type", "'video'"),
    ("messages.1.content", [{"type": "text"}], "messages[1].content[0].text", "Missing"),
    ("messages.1.content", [{"type": "text", "text": 3}], "messages[1].content[0].text", "a string"),
    (
        "messages.0.content",
        [{"type": "image_url", "image_url": {"url": "x"}}],
        "messages[0].content[0].type",
        "",
    ),
    (
        "messages.1.content",
        [{"type": "image_url", "image_url": {"url": "x", "detail": "huge"}}],
        "messages[1].content[0].image_url.detail",
        "Supported values",
    ),
    ("messages.1.tool_calls", "x", "messages[1].tool_calls", "an array"),
    ("messages.1.name", 7, "messages[1].name", "a string"),
    ("temperature", "0.5", "temperature", "expected a number, but got a string"),
    ("temperature", True, "temperature", "a number"),
    ("temperature", 2.5, "temperature", "between 0 and 2"),
    ("top_p", -1, "top_p", ""),
    ("max_tokens", 1.5, "max_tokens", "an integer"),
    ("max_tokens", 0, "max_tokens", "at least 1"),
    ("n", 0, "n", ""),
    ("top_logprobs", 21, "top_logprobs", "maximum"),
    ("presence_penalty", 3, "presence_penalty", ""),
    ("stop", 5, "stop", "a string or an array of strings"),
    ("stop", ["a", 1], "stop[1]", "a string"),
    ("logit_bias", {"50256": "x"}, "logit_bias.50256", "a number"),
    ("reasoning_effort", "extreme", "reasoning_effort", "Supported values"),
    ("tools", {}, "tools", "an array"),
    ("tools.0.type", "custom", "tools[0].type", "Supported values"),
    ("tools.0.function.name", "get weather!", "tools[0].function.name", "pattern"),
    ("tools.0.function.name", "x" * 65, "tools[0].function.name", "too long"),
    ("tools.0.function", "-", "tools[0].function", "Missing"),
    ("tools.0.function.parameters", [], "tools[0].function.parameters", "an object"),
    ("tool_choice", "sometimes", "tool_choice", "Supported values"),
    ("tool_choice", 5, "tool_choice", "'auto', 'none', 'required'"),
    ("tool_choice", {"type": "function", "function": {"name": "nope"}}, "tool_choice.function.name", "nope"),
    ("tool_choice", {"type": "function"}, "tool_choice.function", "Missing"),
    ("functions", [WEATHER["function"]], "functions", "not both"),
    ("response_format", {"type": "xml"}, "response_format.type", "Supported values"),
    ("response_format", {"type": "json_schema"}, "response_format.json_schema", "Missing"),
    (
        "response_format",
        {"type": "json_schema", "json_schema": {"schema": {}}},
        "response_format.json_schema.name",
        "",
    ),
    ("stream", "yes", "stream", "a boolean"),
    ("stream_options", {"include_usage": 1}, "stream_options.include_usage", "a boolean"),
    ("metadata", ["a"], "metadata", "an object"),
    ("num_retries", -1, "num_retries", "minimum"),
    ("tags", [1], "tags[0]", "a string"),
    ("cache", True, "cache", "an object"),
    ("mock_response", 5, "mock_response", "a string"),
]


@pytest.mark.parametrize(("path", "value", "param", "says"), INVALID)
def test_an_invalid_field_is_refused_naming_it_the_openai_way(
    path: str, value: Any, param: str, says: str
) -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_chat_request(_with(path, value))

    assert raised.value.param == param
    assert says in raised.value.message
    assert raised.value.status_code == 400


def test_a_tool_message_without_the_id_it_answers_is_refused() -> None:
    messages = [{"role": "user", "content": "x"}, {"role": "tool", "content": "12C"}]

    with pytest.raises(BadRequestError) as raised:
        parse_chat_request(chat(messages=messages))

    assert raised.value.param == "messages[1].tool_call_id"


def test_tool_calls_on_a_user_message_are_refused() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}

    with pytest.raises(BadRequestError) as raised:
        parse_chat_request(chat(messages=[{"role": "user", "content": "x", "tool_calls": [call]}]))

    assert raised.value.param == "messages[0].tool_calls"


def test_a_required_tool_choice_without_tools_is_refused() -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_chat_request(chat(tool_choice="required"))

    assert raised.value.param == "tool_choice"


def test_an_audio_part_is_refused_as_unsupported_naming_the_part() -> None:
    part = {"type": "input_audio", "input_audio": {"data": "AAA=", "format": "wav"}}

    with pytest.raises(UnsupportedParameterError) as raised:
        parse_chat_request(chat(messages=[{"role": "user", "content": [part]}]))

    assert raised.value.param == "messages[0].content[0].type"


def test_an_openai_body_goes_upstream_as_it_came_under_the_upstream_model_id() -> None:
    body = chat(
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}], "name": "ada"},
            {
                "role": "assistant",
                "content": "Calling.",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        temperature=0.3,
        stop=["\n\n"],
        tools=[WEATHER],
        tool_choice="required",
        response_format={"type": "json_object"},
        parallel_tool_calls=True,
        store=False,
    )

    sent = chat_request_body(parse_chat_request(body), model="gpt-4o-mini-2024-07-18")

    assert sent == body | {"model": "gpt-4o-mini-2024-07-18"}


def test_the_upstream_body_leaves_out_gateway_fields_and_asks_a_stream_for_usage() -> None:
    request = parse_chat_request(
        chat(stream=True, metadata={"a": 1}, num_retries=1, mock_response="x", user="u", n=1)
    )

    sent = chat_request_body(request, model="m")

    assert sent == {
        "model": "m",
        "messages": chat()["messages"],
        "n": 1,
        "user": "u",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_extra_body_wins_over_the_modelled_fields_as_with_the_openai_sdk() -> None:
    request = dataclasses.replace(parse_chat_request(chat(temperature=0.1)), extra_body={"temperature": 0.9})

    assert chat_request_body(request, model="m")["temperature"] == 0.9


def test_integer_logit_biases_go_upstream_as_integers() -> None:
    request = parse_chat_request(chat(logit_bias={"50256": -100, "11": 2.5}))

    assert orjson.dumps(chat_request_body(request, model="m")["logit_bias"]) == b'{"50256":-100,"11":2.5}'
