"""What the Anthropic adapter puts on the wire (URL, headers, body, per-call timeouts), and how it reads
the replies only Anthropic sends (forced-tool JSON answers, thinking, truncated streams)."""

from __future__ import annotations

import json

import httpx
import pytest

from domain.completions import FinishReason, ReasoningEffort, SamplingParams, assemble
from domain.deployments import Capabilities, Credentials, Secret
from domain.errors import BadGatewayError, BadRequestError, InternalServerError, ServiceUnavailableError
from domain.messages import (
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    ToolCall,
    ToolChoiceMode,
)
from tests.contract.harnesses.anthropic import FIXTURES, AnthropicHarness
from tests.contract.harnesses.base import WEATHER_TOOL, chat_request
from tests.contract.outgoing import harness_fixture, sent_body, sent_chat, sent_json

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}
WEATHER_FORMAT = ResponseFormat(
    ResponseFormatType.JSON_SCHEMA, name="weather", schema=WEATHER_SCHEMA, strict=True
)


harness = harness_fixture(AnthropicHarness)


async def test_a_chat_is_posted_to_the_messages_endpoint_with_the_key_and_api_version(
    harness: AnthropicHarness,
) -> None:
    (sent,) = await sent_chat(harness)

    assert sent.method == "POST"
    assert str(sent.url) == "https://api.anthropic.example/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test-123"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["content-type"] == "application/json"
    assert "authorization" not in sent.headers
    assert "anthropic-beta" not in sent.headers


async def test_a_plain_chat_lifts_the_system_prompt_and_always_sends_max_tokens(
    harness: AnthropicHarness,
) -> None:
    body = await sent_body(harness)

    assert body == {
        "model": "claude-sonnet-4-5-20250929",
        "system": "You are a helpful assistant.",
        "messages": [{"role": "user", "content": "Hello!"}],
        "max_tokens": 64000,
    }


async def test_system_and_developer_messages_become_system_blocks_in_order(harness: AnthropicHarness) -> None:
    messages = (
        Message(Role.SYSTEM, "Be brief."),
        Message(Role.USER, "Hi"),
        Message(Role.DEVELOPER, (TextPart("Answer in French."),)),
    )

    body = await sent_body(harness, messages=messages)

    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Answer in French."},
    ]
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


async def test_sampling_controls_are_mapped_to_their_anthropic_names(harness: AnthropicHarness) -> None:
    params = SamplingParams(
        temperature=0.2, top_p=0.9, max_completion_tokens=50, stop=("END", "STOP"), user="u-1"
    )

    body = await sent_body(harness, params=params)

    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["max_tokens"] == 50
    assert body["stop_sequences"] == ["END", "STOP"]
    assert body["metadata"] == {"user_id": "u-1"}


async def test_a_tool_round_trip_becomes_tool_use_and_tool_result_blocks_in_merged_turns(
    harness: AnthropicHarness,
) -> None:
    calls = (
        ToolCall("toolu_1", "get_current_weather", '{"location": "Paris"}'),
        ToolCall("toolu_2", "get_current_weather", '{"location": "Lyon"}'),
    )
    messages = (
        Message(Role.USER, "Weather in Paris and Lyon?"),
        Message(Role.ASSISTANT, "Let me look.", tool_calls=calls),
        Message(Role.TOOL, '{"temp": 21}', tool_call_id="toolu_1"),
        Message(Role.TOOL, (TextPart("18 degrees"),), tool_call_id="toolu_2"),
        Message(Role.USER, "And tomorrow?"),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))

    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris and Lyon?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_current_weather",
                    "input": {"location": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_current_weather",
                    "input": {"location": "Lyon"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp": 21}'},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "18 degrees"}],
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": WEATHER_TOOL.name,
            "description": WEATHER_TOOL.description,
            "input_schema": WEATHER_TOOL.parameters,
        }
    ]
    assert "tool_choice" not in body


async def test_arguments_that_are_not_json_are_refused_before_anything_is_sent(
    harness: AnthropicHarness,
) -> None:
    messages = (
        Message(Role.USER, "Hi"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("toolu_1", "f", "{not json"),)),
        Message(Role.TOOL, "ok", tool_call_id="toolu_1"),
    )

    with pytest.raises(BadRequestError) as raised:
        await harness.provider.complete(chat_request(messages=messages), harness.deployment)

    assert raised.value.param == "messages[1].tool_calls[0].function.arguments"
    assert harness.upstream.sent == []


async def test_images_go_as_base64_sources_from_data_urls_and_url_sources_otherwise(
    harness: AnthropicHarness,
) -> None:
    content = (
        TextPart("What is in these?"),
        ImagePart("data:image/png;base64,iVBORw0KGgo="),
        ImagePart("https://example.com/cat.jpg"),
    )

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        }
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (ToolChoiceMode.AUTO, None, {"type": "auto"}),
        (ToolChoiceMode.REQUIRED, None, {"type": "any"}),
        (ToolChoiceMode.NONE, None, {"type": "none"}),
        (NamedToolChoice("get_current_weather"), None, {"type": "tool", "name": "get_current_weather"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (ToolChoiceMode.REQUIRED, False, {"type": "any", "disable_parallel_tool_use": True}),
        (ToolChoiceMode.NONE, False, {"type": "none"}),
    ],
)
async def test_tool_choice_and_parallel_tool_calls_map_to_anthropics_tool_choice(
    harness: AnthropicHarness, choice: object, parallel: bool | None, expected: dict
) -> None:
    body = await sent_body(
        harness,
        tools=(WEATHER_TOOL,),
        tool_choice=choice,
        params=SamplingParams(parallel_tool_calls=parallel),
    )

    assert body["tool_choice"] == expected


async def test_a_json_schema_goes_as_native_structured_output_where_the_model_has_it(
    harness: AnthropicHarness,
) -> None:
    body = await sent_body(harness, response_format=WEATHER_FORMAT)

    assert body["output_config"] == {"format": {"type": "json_schema", "schema": WEATHER_SCHEMA}}
    assert "tools" not in body and "tool_choice" not in body


async def test_on_older_models_a_json_schema_is_a_forced_tool_whose_input_comes_back_as_the_content() -> None:
    harness = AnthropicHarness(upstream_model="claude-sonnet-4-20250514")
    reply = json.loads((FIXTURES / "message_tool_use.json").read_text())
    reply["content"] = [
        {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Oslo", "celsius": -3}}
    ]
    harness.upstream.answer = lambda _: httpx.Response(200, json=reply)

    response = await harness.provider.complete(
        chat_request(response_format=WEATHER_FORMAT), harness.deployment
    )
    await harness.close()

    body = sent_json(harness.upstream.sent[0])
    assert body["tools"] == [
        {
            "name": "weather",
            "description": "Give the answer by calling this tool; its input is the whole answer.",
            "input_schema": WEATHER_SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "weather"}
    (choice,) = response.choices
    assert json.loads(choice.message.content) == {"city": "Oslo", "celsius": -3}
    assert choice.message.tool_calls == ()
    assert choice.finish_reason is FinishReason.STOP


async def test_a_streamed_forced_tool_answer_arrives_as_content() -> None:
    harness = AnthropicHarness(upstream_model="claude-3-7-sonnet-20250219")
    stream = (
        (FIXTURES / "stream_tool_use.sse")
        .read_bytes()
        .replace(b'"name":"get_current_weather"', b'"name":"weather"')
    )
    harness.upstream.sse(stream)
    request = chat_request(response_format=WEATHER_FORMAT, stream=True)

    chunks = [chunk async for chunk in await harness.provider.stream(request, harness.deployment)]
    await harness.close()

    (choice,) = assemble(chunks).choices
    assert (
        choice.message.text
        == "I'll check the current weather in Boston for you." + '{"location": "Boston, MA"}'
    )
    assert choice.message.tool_calls == ()
    assert choice.finish_reason is FinishReason.STOP


async def test_json_object_mode_asks_for_json_in_the_system_prompt(harness: AnthropicHarness) -> None:
    body = await sent_body(harness, response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT))

    assert body["system"][0] == {"type": "text", "text": "You are a helpful assistant."}
    assert "JSON object" in body["system"][1]["text"]


async def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens(harness: AnthropicHarness) -> None:
    body = await sent_body(harness, params=SamplingParams(reasoning_effort=ReasoningEffort.MEDIUM))
    tight = await sent_body(
        harness, params=SamplingParams(reasoning_effort=ReasoningEffort.LOW, max_tokens=500)
    )

    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["max_tokens"] == 64000
    assert tight["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert tight["max_tokens"] == 2048 + 500


async def test_on_adaptive_models_reasoning_effort_becomes_adaptive_thinking_at_that_effort() -> None:
    harness = AnthropicHarness(upstream_model="claude-opus-4-7")

    body = await sent_body(harness, params=SamplingParams(reasoning_effort=ReasoningEffort.HIGH))
    await harness.close()

    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "high"}
    assert body["max_tokens"] == 128000


async def test_extra_body_fields_pass_through_and_a_thinking_config_wins(harness: AnthropicHarness) -> None:
    extra = {"thinking": {"type": "enabled", "budget_tokens": 3000}, "top_k": 5, "anthropic_beta": ["b-1"]}

    body = await sent_body(
        harness,
        params=SamplingParams(reasoning_effort=ReasoningEffort.HIGH, max_tokens=1000),
        extra_body=extra,
    )

    assert body["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert body["max_tokens"] == 4000
    assert body["top_k"] == 5
    assert "anthropic_beta" not in body


async def test_anthropic_beta_joins_the_deployments_and_the_requests_and_the_version_can_be_set() -> None:
    credentials = Credentials(
        api_key=Secret("sk-ant-x"), extra={"anthropic_beta": "a-1, b-2", "anthropic_version": "2024-01-01"}
    )
    harness = AnthropicHarness(credentials=credentials)

    await sent_body(harness, extra_body={"anthropic_beta": "b-2,c-3"})
    await harness.close()

    sent = harness.upstream.sent[0]
    assert sent.headers["anthropic-beta"] == "a-1,b-2,c-3"
    assert sent.headers["anthropic-version"] == "2024-01-01"


async def test_max_tokens_defaults_to_the_configured_output_limit_then_the_models_then_4096() -> None:
    configured = AnthropicHarness(capabilities=Capabilities(max_output_tokens=1234))
    unknown = AnthropicHarness(upstream_model="my-fine-tuned-claude")

    assert (await sent_body(configured))["max_tokens"] == 1234
    assert (await sent_body(unknown))["max_tokens"] == 4096
    await configured.close()
    await unknown.close()


async def test_a_stream_asks_for_one_and_carries_the_same_headers(harness: AnthropicHarness) -> None:
    harness.text_reply(stream=True)

    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)
    await stream.aclose()

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.anthropic.example/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test-123"
    assert sent_json(sent)["stream"] is True


async def test_the_method_called_decides_whether_the_upstream_streams(harness: AnthropicHarness) -> None:
    harness.text_reply(stream=False)
    await harness.provider.complete(chat_request(stream=True), harness.deployment)

    assert "stream" not in sent_json(harness.upstream.sent[0])


@pytest.mark.parametrize(
    ("api_base", "url"),
    [
        (None, "https://api.anthropic.com/v1/messages"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000/v1/messages"),
        ("http://127.0.0.1:9000/v1", "http://127.0.0.1:9000/v1/messages"),
        ("http://127.0.0.1:9000/v1/messages", "http://127.0.0.1:9000/v1/messages"),
    ],
)
async def test_the_endpoint_is_found_from_any_base_a_user_may_write(api_base: str | None, url: str) -> None:
    harness = AnthropicHarness(api_base=api_base)

    await sent_body(harness)
    await harness.close()

    assert str(harness.upstream.sent[0].url) == url


async def test_a_streamed_thinking_block_arrives_as_reasoning_content(harness: AnthropicHarness) -> None:
    harness.upstream.sse((FIXTURES / "stream_thinking.sse").read_bytes())

    chunks = [
        chunk async for chunk in await harness.provider.stream(chat_request(stream=True), harness.deployment)
    ]

    (choice,) = assemble(chunks).choices
    assert choice.message.reasoning_content == "The user asks for 2+2. That is 4."
    assert choice.message.text == "2 + 2 = 4."
    assert chunks[-1].usage is not None and chunks[-1].usage.reasoning_tokens == 48


async def test_a_whole_thinking_reply_keeps_reasoning_apart_from_the_answer(
    harness: AnthropicHarness,
) -> None:
    harness.upstream.json(200, "message_thinking.json")

    response = await harness.provider.complete(chat_request(), harness.deployment)

    (choice,) = response.choices
    assert choice.message.reasoning_content == "The user asks for 2+2. That is 4."
    assert choice.message.content == "2 + 2 = 4."
    assert response.usage is not None and response.usage.reasoning_tokens == 48


async def test_an_overloaded_event_mid_stream_raises_service_unavailable(harness: AnthropicHarness) -> None:
    harness.upstream.sse((FIXTURES / "stream_overloaded_event.sse").read_bytes())
    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)

    with pytest.raises(ServiceUnavailableError):
        async for _ in stream:
            pass


async def test_a_stream_cut_before_message_stop_is_an_error_not_a_short_reply(
    harness: AnthropicHarness,
) -> None:
    text = (FIXTURES / "stream.sse").read_bytes()
    harness.upstream.sse(text[: text.index(b"event: message_delta")])
    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)

    with pytest.raises(BadGatewayError):
        async for _ in stream:
            pass
    assert harness.upstream_closed


async def test_an_error_body_answering_a_stream_request_is_raised_up_front(harness: AnthropicHarness) -> None:
    body = (FIXTURES / "errors/overloaded.json").read_bytes()
    harness.upstream.answer = lambda _: httpx.Response(
        200, content=body, headers={"content-type": "application/json"}
    )

    with pytest.raises(ServiceUnavailableError):
        await harness.provider.stream(chat_request(stream=True), harness.deployment)


async def test_a_deployments_preset_thinking_top_k_and_headers_apply_unless_the_request_says_otherwise() -> (
    None
):
    presets = {
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "top_k": 3,
        "extra_headers": {"x-team": "search"},
    }
    harness = AnthropicHarness(extra_params=presets)

    preset = await sent_body(harness)
    overridden = await sent_body(
        harness, params=SamplingParams(reasoning_effort=ReasoningEffort.NONE), extra_body={"top_k": 9}
    )
    await harness.close()

    assert (preset["thinking"], preset["top_k"]) == ({"type": "enabled", "budget_tokens": 2048}, 3)
    assert "thinking" not in overridden and overridden["top_k"] == 9
    assert harness.upstream.sent[0].headers["x-team"] == "search"


async def test_an_error_event_in_a_proxys_shape_is_still_raised_as_an_error(
    harness: AnthropicHarness,
) -> None:
    head = (FIXTURES / "stream.sse").read_bytes().split(b"\n\n")[0] + b"\n\n"
    harness.upstream.sse(head + b'event: error\ndata: {"error": {"message": "upstream timed out"}}\n\n')
    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)

    with pytest.raises(InternalServerError) as raised:
        async for _ in stream:
            pass
    assert raised.value.message == "upstream timed out"
