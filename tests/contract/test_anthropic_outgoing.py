"""What the Anthropic adapter puts on the wire (URL, headers, body, per-call timeouts), and how it reads
the replies only Anthropic sends (forced-tool JSON answers, thinking, truncated streams); requests native
to the Messages API passed through, their replies and streams handed back as received; token counts."""

from __future__ import annotations

import base64
import json

import httpx
import orjson
import pytest

from domain.completions import FinishReason, ReasoningEffort, SamplingParams, Usage, assemble
from domain.deployments import Capabilities, Credentials, Secret
from domain.errors import BadGatewayError, BadRequestError, InternalServerError, ServiceUnavailableError
from domain.messages import (
    DocumentPart,
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
from tests.contract.harnesses.anthropic import FIXTURES, AnthropicHarness, native_body, native_request
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


# --- issue 6: the Messages API's own features through the domain ------------------------------------


async def test_signed_thinking_comes_back_in_the_next_turn_of_a_tool_loop(harness: AnthropicHarness) -> None:
    harness.upstream.json(200, "message_thinking_tool_use.json")
    thinking = SamplingParams(reasoning_effort=ReasoningEffort.LOW)
    question = Message(Role.USER, "What's the weather in Paris?")
    first = await harness.provider.complete(
        chat_request(messages=(question,), tools=(WEATHER_TOOL,), params=thinking), harness.deployment
    )
    answer = first.choices[0].message
    result = Message(Role.TOOL, "15 degrees, light rain", tool_call_id=answer.tool_calls[0].id)
    follow_up = chat_request(messages=(question, answer, result), tools=(WEATHER_TOOL,), params=thinking)

    assert harness.provider.unsupported_params(follow_up, harness.deployment) == []
    body = await sent_body(harness, messages=follow_up.messages, tools=(WEATHER_TOOL,), params=thinking)

    fixture = json.loads((FIXTURES / "message_thinking_tool_use.json").read_text())
    assert body["messages"][1] == {"role": "assistant", "content": fixture["content"]}
    assert body["messages"][2]["content"][0]["tool_use_id"] == "toolu_01A09q90qw90lq917835lq9"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


async def test_a_whole_reply_keeps_each_thinking_block_with_its_signature(harness: AnthropicHarness) -> None:
    harness.upstream.json(200, "message_thinking_tool_use.json")

    response = await harness.provider.complete(chat_request(tools=(WEATHER_TOOL,)), harness.deployment)

    message = response.choices[0].message
    fixture = json.loads((FIXTURES / "message_thinking_tool_use.json").read_text())
    thinking, redacted = fixture["content"][0], fixture["content"][1]
    assert message.thinking_blocks == (
        ThinkingBlock(thinking["thinking"], thinking["signature"]),
        ThinkingBlock(redacted=redacted["data"]),
    )
    assert message.reasoning_content == thinking["thinking"]
    assert message.content == "I'll look up the weather in Paris."
    assert message.tool_calls[0].name == "get_weather"
    assert response.native is None


async def test_a_streamed_thinking_block_ends_with_its_signature_and_a_redacted_one_comes_whole(
    harness: AnthropicHarness,
) -> None:
    harness.upstream.sse((FIXTURES / "stream_thinking_tool_use.sse").read_bytes())

    chunks = [
        chunk
        async for chunk in await harness.provider.stream(
            chat_request(tools=(WEATHER_TOOL,), stream=True), harness.deployment
        )
    ]

    fixture = json.loads((FIXTURES / "message_thinking_tool_use.json").read_text())
    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    thinking = [(d.reasoning_content, d.thinking_signature, d.redacted_thinking) for d in deltas]
    thinking = [t for t in thinking if any(t)]
    assert thinking == [
        ("The user wants the weather in Paris.", None, None),
        (" I should call get_weather with city Paris.", None, None),
        (None, fixture["content"][0]["signature"], None),
        (None, None, fixture["content"][1]["data"]),
    ]
    (choice,) = assemble(chunks).choices
    assert choice.message.text == "I'll look up the weather in Paris."
    assert choice.message.tool_calls[0].arguments == '{"city": "Paris"}'
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert all(chunk.native is None for chunk in chunks)


async def test_documents_go_as_pdf_plain_text_and_url_sources_with_title_and_context(
    harness: AnthropicHarness,
) -> None:
    text = base64.b64encode("Grass is green. Élan.".encode()).decode()
    content = (
        TextPart("Summarise these."),
        DocumentPart("data:application/pdf;base64,JVBERi0xLjQK", title="Report", context="Q3 numbers"),
        DocumentPart(f"data:text/plain;base64,{text}"),
        DocumentPart("https://example.com/paper.pdf", title="Paper"),
    )

    body = await sent_body(harness, messages=(Message(Role.USER, content),))

    assert body["messages"][0]["content"][1:] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"},
            "title": "Report",
            "context": "Q3 numbers",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "Grass is green. Élan."},
        },
        {
            "type": "document",
            "source": {"type": "url", "url": "https://example.com/paper.pdf"},
            "title": "Paper",
        },
    ]


async def test_a_failed_tool_call_is_a_tool_result_marked_as_an_error(harness: AnthropicHarness) -> None:
    messages = (
        Message(Role.USER, "Weather?"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("toolu_1", "get_current_weather", "{}"),)),
        Message(Role.TOOL, "location is required", tool_call_id="toolu_1", tool_error=True),
    )

    body = await sent_body(harness, messages=messages, tools=(WEATHER_TOOL,))

    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "location is required", "is_error": True}
    ]


async def test_top_k_is_sent_and_a_passed_top_k_wins(harness: AnthropicHarness) -> None:
    asked = await sent_body(harness, params=SamplingParams(top_k=40))
    passed = await sent_body(harness, params=SamplingParams(top_k=40), extra_body={"top_k": 7})

    assert asked["top_k"] == 40
    assert passed["top_k"] == 7


async def test_a_thinking_budget_is_sent_as_budget_tokens_below_max_tokens(harness: AnthropicHarness) -> None:
    body = await sent_body(harness, params=SamplingParams(thinking_budget=5000, max_tokens=1000))
    adaptive = AnthropicHarness(upstream_model="claude-opus-4-7")
    on_adaptive = await sent_body(adaptive, params=SamplingParams(thinking_budget=5000))
    await adaptive.close()

    assert body["thinking"] == {"type": "enabled", "budget_tokens": 5000}
    assert body["max_tokens"] == 6000
    assert on_adaptive["thinking"] == {"type": "adaptive"}
    assert on_adaptive["output_config"] == {"effort": "medium"}


async def test_the_stop_sequence_that_ended_a_reply_is_kept_whole_and_streamed(
    harness: AnthropicHarness,
) -> None:
    harness.upstream.json(200, "message_stop_sequence.json")
    whole = await harness.provider.complete(
        chat_request(params=SamplingParams(stop=("5",))), harness.deployment
    )
    harness.upstream.sse((FIXTURES / "stream_stop_sequence.sse").read_bytes())
    stream = await harness.provider.stream(
        chat_request(params=SamplingParams(stop=("5",)), stream=True), harness.deployment
    )
    ends = [choice for chunk in [c async for c in stream] for choice in chunk.choices if choice.finish_reason]

    assert (whole.choices[0].finish_reason, whole.choices[0].stop_sequence) == (FinishReason.STOP, "5")
    assert [(end.finish_reason, end.stop_sequence) for end in ends] == [(FinishReason.STOP, "5")]


# --- issue 6: requests native to the Messages API ------------------------------------------------------


async def test_a_native_request_goes_out_as_sent_but_for_the_model_and_stream(
    harness: AnthropicHarness,
) -> None:
    body = native_body()
    harness.text_reply(stream=False)
    await harness.provider.complete(native_request(body), harness.deployment)
    harness.text_reply(stream=True)
    await (await harness.provider.stream(native_request(body, stream=True), harness.deployment)).aclose()

    whole, streamed = harness.upstream.sent
    model = harness.deployment.upstream_model
    assert whole.content == orjson.dumps(body | {"model": model, "stream": False})
    assert streamed.content == orjson.dumps(body | {"model": model, "stream": True})
    assert list(sent_json(whole)) == list(body)


async def test_a_native_request_that_did_not_say_stream_is_sent_without_it(harness: AnthropicHarness) -> None:
    body = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}

    (sent,) = await sent_chat(harness, native_request(body))

    assert sent.content == orjson.dumps(body | {"model": "claude-sonnet-4-5-20250929"})


async def test_a_native_request_carries_the_clients_version_and_betas_with_the_deployments_key() -> None:
    credentials = Credentials(api_key=Secret("sk-ant-x"), extra={"anthropic_beta": "context-1m-2025-08-07"})
    harness = AnthropicHarness(credentials=credentials)
    headers = {
        "anthropic-version": "2023-01-01",
        "anthropic-beta": "interleaved-thinking-2025-05-14,context-1m-2025-08-07",
        "x-api-key": "sk-gateway-key-of-the-client",
        "authorization": "Bearer sk-gateway-key-of-the-client",
    }

    (sent,) = await sent_chat(harness, native_request(headers=headers))

    assert sent.headers["x-api-key"] == "sk-ant-x"
    assert "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == "2023-01-01"
    assert sent.headers["anthropic-beta"] == "context-1m-2025-08-07,interleaved-thinking-2025-05-14"


async def test_without_its_version_header_a_native_request_gets_ours(harness: AnthropicHarness) -> None:
    (sent,) = await sent_chat(harness, native_request())

    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "anthropic-beta" not in sent.headers


async def test_deployment_defaults_fill_only_what_a_native_request_left_out() -> None:
    presets = {
        "temperature": 0.3,
        "top_k": 5,
        "stop": ("END",),
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "extra_body": {"service_tier": "standard_only", "inference_geo": "us"},
        "extra_headers": {"x-team": "search"},
    }
    harness = AnthropicHarness(extra_params=presets)
    body = native_body()  # sets thinking and service_tier itself

    (sent,) = await sent_chat(harness, native_request(body))

    out = sent_json(sent)
    assert out["thinking"] == body["thinking"] and out["service_tier"] == "auto"
    assert (out["temperature"], out["top_k"], out["stop_sequences"]) == (0.3, 5, ["END"])
    assert out["inference_geo"] == "us"
    assert out["max_tokens"] == body["max_tokens"]
    assert sent.headers["x-team"] == "search"


async def test_a_native_request_is_not_second_guessed_parameter_by_parameter() -> None:
    harness = AnthropicHarness(upstream_model="claude-opus-4-7")
    request = native_request(
        params=SamplingParams(temperature=0.5, top_k=3, reasoning_effort=ReasoningEffort.LOW)
    )

    assert harness.provider.unsupported_params(request, harness.deployment) == []
    await harness.close()


async def test_a_native_reply_comes_back_parsed_and_as_received(harness: AnthropicHarness) -> None:
    harness.upstream.json(200, "message_thinking_tool_use.json")

    response = await harness.provider.complete(native_request(), harness.deployment)

    assert response.native == json.loads((FIXTURES / "message_thinking_tool_use.json").read_text())
    assert response.usage == Usage(prompt_tokens=2211, completion_tokens=187, cached_tokens=1830)
    assert response.choices[0].message.tool_calls[0].id == "toolu_01A09q90qw90lq917835lq9"


NATIVE_STREAMS = ["stream.sse", "stream_tool_use.sse", "stream_thinking.sse", "stream_thinking_tool_use.sse"]


@pytest.mark.parametrize("fixture", NATIVE_STREAMS)
@pytest.mark.parametrize("piece", [1, 7, 100, 100_000])
async def test_a_native_streams_chunks_carry_every_upstream_byte_in_order(
    harness: AnthropicHarness, fixture: str, piece: int
) -> None:
    upstream = (FIXTURES / fixture).read_bytes()
    harness.answer_reads([upstream[i : i + piece] for i in range(0, len(upstream), piece)])

    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    chunks = [chunk async for chunk in stream]

    assert b"".join(chunk.native or b"" for chunk in chunks) == upstream
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    reply = assemble(chunks)
    assert reply.choices[0].finish_reason is not None


async def test_a_native_stream_hands_over_each_reads_events_with_that_read(harness: AnthropicHarness) -> None:
    upstream = (FIXTURES / "stream_thinking_tool_use.sse").read_bytes()
    reads = [event + b"\n\n" for event in upstream.split(b"\n\n")[:-1]]
    harness.answer_reads(reads)

    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    batches = [batch async for batch in stream.batches()]

    assert [b"".join(chunk.native or b"" for chunk in batch) for batch in batches] == reads
    pings = [batch for batch, read in zip(batches, reads, strict=True) if read.startswith(b"event: ping")]
    assert len(pings) == 2 and all(chunk.choices == () for batch in pings for chunk in batch)


async def test_a_native_stream_with_crlf_line_endings_is_carried_byte_for_byte(
    harness: AnthropicHarness,
) -> None:
    upstream = (FIXTURES / "stream_tool_use.sse").read_bytes().replace(b"\n", b"\r\n")
    harness.answer_reads([upstream[i : i + 5] for i in range(0, len(upstream), 5)])

    chunks = [c async for c in await harness.provider.stream(native_request(stream=True), harness.deployment)]

    assert b"".join(chunk.native or b"" for chunk in chunks) == upstream
    assert assemble(chunks).choices[0].message.tool_calls[0].arguments == '{"location": "Boston, MA"}'


async def test_an_overloaded_event_ends_a_native_stream_as_a_529_after_the_bytes_before_it(
    harness: AnthropicHarness,
) -> None:
    upstream = (FIXTURES / "stream_overloaded_event.sse").read_bytes()
    harness.answer_reads([upstream])
    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    carried: list[bytes] = []

    with pytest.raises(ServiceUnavailableError) as raised:
        async for chunk in stream:
            carried.append(chunk.native or b"")

    assert raised.value.code == "overloaded_error"
    assert b"".join(carried) == upstream[: upstream.index(b"event: error")]
    assert harness.upstream_closed


async def test_a_native_stream_cut_short_is_an_error_after_what_did_arrive(harness: AnthropicHarness) -> None:
    upstream = (FIXTURES / "stream.sse").read_bytes()
    cut = upstream[: upstream.index(b"event: message_delta")]
    harness.answer_reads([cut])
    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    carried: list[bytes] = []

    with pytest.raises(BadGatewayError):
        async for chunk in stream:
            carried.append(chunk.native or b"")

    assert b"".join(carried) == cut


@pytest.mark.parametrize("stream", [False, True])
async def test_an_overloaded_anthropic_is_a_service_unavailable_error_coded_overloaded(
    harness: AnthropicHarness, stream: bool
) -> None:
    harness.upstream.json(529, "errors/overloaded.json")
    call = harness.provider.stream if stream else harness.provider.complete

    with pytest.raises(ServiceUnavailableError) as raised:
        await call(native_request(stream=stream), harness.deployment)

    assert raised.value.code == "overloaded_error"
    assert raised.value.message == "Overloaded"


# --- issue 6: token counts ----------------------------------------------------------------------------


async def test_a_native_token_count_sends_the_body_without_the_fields_count_tokens_refuses(
    harness: AnthropicHarness,
) -> None:
    harness.upstream.json(200, "count_tokens.json")
    body = native_body()

    count = await harness.provider.count_tokens(native_request(body), harness.deployment)

    (sent,) = harness.upstream.sent
    assert count == 2095
    assert str(sent.url) == "https://api.anthropic.example/v1/messages/count_tokens"
    assert sent.headers["x-api-key"] == "sk-ant-test-123"
    kept = ("model", "system", "messages", "tools", "tool_choice", "thinking")
    assert sent.content == orjson.dumps(
        {name: body[name] for name in body if name in kept} | {"model": "claude-sonnet-4-5-20250929"}
    )


async def test_a_token_count_of_a_domain_request_sends_what_the_chat_would_less_max_tokens(
    harness: AnthropicHarness,
) -> None:
    harness.upstream.json(200, "count_tokens.json")
    request = chat_request(
        tools=(WEATHER_TOOL,), params=SamplingParams(temperature=0.5, stop=("x",), user="u-1")
    )

    count = await harness.provider.count_tokens(request, harness.deployment)

    assert count == 2095
    assert sent_json(harness.upstream.sent[0]) == {
        "model": "claude-sonnet-4-5-20250929",
        "messages": [{"role": "user", "content": "Hello!"}],
        "system": "You are a helpful assistant.",
        "tools": [
            {
                "name": WEATHER_TOOL.name,
                "description": WEATHER_TOOL.description,
                "input_schema": WEATHER_TOOL.parameters,
            }
        ],
    }
    assert harness.provider.supports_count_tokens


@pytest.mark.parametrize(
    ("status", "fixture", "kind"),
    [
        (529, "errors/overloaded.json", ServiceUnavailableError),
        (400, "errors/invalid_request.json", BadRequestError),
        (200, "message.json", BadGatewayError),
    ],
)
async def test_a_failed_token_count_raises_like_a_failed_chat(
    harness: AnthropicHarness, status: int, fixture: str, kind: type[Exception]
) -> None:
    harness.upstream.json(status, fixture)

    with pytest.raises(kind):
        await harness.provider.count_tokens(native_request(), harness.deployment)
