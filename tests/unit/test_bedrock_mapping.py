"""Edge cases of the Bedrock mapping: Converse bodies, replies, stream events, errors, embeddings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.llm.bedrock import embeddings, mapping, replies
from adapters.llm.bedrock.errors import stream_exception, upstream_error
from domain import errors
from domain.completions import (
    CompletionRequest,
    FinishReason,
    ReasoningEffort,
    SamplingParams,
    Usage,
    assemble,
)
from domain.deployments import Credentials, Deployment
from domain.embeddings import EmbeddingRequest
from domain.messages import (
    DocumentPart,
    FunctionTool,
    ImagePart,
    Message,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
    ToolChoiceMode,
)

CLAUDE = "anthropic.claude-3-7-sonnet-20250219-v1:0"
TOOL = FunctionTool(name="lookup", parameters={"type": "object", "properties": {"q": {"type": "string"}}})


def _deployment(model: str = CLAUDE, **changes: Any) -> Deployment:
    return Deployment(id="d", model_name="m", provider="bedrock", upstream_model=model, **changes)


def _request(*messages: Message, **changes: Any) -> CompletionRequest:
    return CompletionRequest(model="m", messages=messages or (Message(Role.USER, "Hi"),), **changes)


def _body(request: CompletionRequest, model: str = CLAUDE, **changes: Any) -> dict[str, Any]:
    return mapping.converse_body(request, _deployment(model, **changes)).body


# Requests.


def test_system_and_developer_messages_anywhere_join_the_system_blocks_in_order() -> None:
    body = _body(
        _request(
            Message(Role.SYSTEM, "Be brief."),
            Message(Role.USER, "Hi"),
            Message(Role.DEVELOPER, (TextPart("Use French."), TextPart(""))),
        )
    )

    assert body["system"] == [{"text": "Be brief."}, {"text": "Use French."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]


def test_consecutive_turns_of_one_role_merge_and_blank_text_is_left_out() -> None:
    body = _body(
        _request(
            Message(Role.USER, "One"),
            Message(Role.USER, "   "),
            Message(Role.USER, (TextPart("Two"), TextPart(""))),
            Message(Role.ASSISTANT, "Three"),
            Message(Role.ASSISTANT, "Four"),
        )
    )

    assert body["messages"] == [
        {"role": "user", "content": [{"text": "One"}, {"text": "Two"}]},
        {"role": "assistant", "content": [{"text": "Three"}, {"text": "Four"}]},
    ]


def test_a_tool_call_without_arguments_is_sent_with_empty_input() -> None:
    body = _body(
        _request(
            Message(Role.USER, "Go"),
            Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "lookup", ""),)),
            Message(
                Role.TOOL,
                (TextPart("found"), ImagePart("data:image/png;base64,iVBORw0KGgo=")),
                tool_call_id="t1",
            ),
            tools=(TOOL,),
        )
    )

    assert body["messages"][1:] == [
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {}}}]},
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "t1",
                        "content": [
                            {"text": "found"},
                            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
                        ],
                    }
                }
            ],
        },
    ]


def test_tool_call_arguments_that_are_not_json_are_refused_naming_them() -> None:
    request = _request(
        Message(Role.USER, "Go"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "lookup", "{oops"),)),
        tools=(TOOL,),
    )

    with pytest.raises(errors.BadRequestError) as raised:
        _body(request)

    assert raised.value.param == "messages[1].tool_calls[0].function.arguments"


def test_a_conversation_holding_tool_calls_keeps_a_tool_config_even_without_tools() -> None:
    history = (
        Message(Role.USER, "Go"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "lookup", "{}"),)),
        Message(Role.TOOL, "done", tool_call_id="t1"),
    )

    without_tools = _body(_request(*history))
    choice_none = _body(_request(*history, tools=(TOOL,), tool_choice=ToolChoiceMode.NONE))

    assert [tool["toolSpec"]["name"] for tool in without_tools["toolConfig"]["tools"]] == [
        "no_tool_available"
    ]
    assert choice_none["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "lookup", "inputSchema": {"json": TOOL.parameters}}}]
    }


def test_a_json_object_response_format_offers_an_open_schema_tool_forced() -> None:
    body = _body(_request(response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT)))

    assert body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "json_tool_call",
                    "inputSchema": {
                        "json": {"type": "object", "additionalProperties": True, "properties": {}}
                    },
                }
            }
        ],
        "toolChoice": {"tool": {"name": "json_tool_call"}},
    }


def test_a_response_format_is_not_forced_while_claude_thinks_or_beside_the_callers_tools() -> None:
    schema = ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="answer", schema={"type": "object"})

    thinking = _body(
        _request(response_format=schema, params=SamplingParams(reasoning_effort=ReasoningEffort.LOW))
    )
    with_tools = _body(_request(response_format=schema, tools=(TOOL,), tool_choice=ToolChoiceMode.AUTO))

    assert "toolChoice" not in thinking["toolConfig"]
    assert thinking["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert [tool["toolSpec"]["name"] for tool in with_tools["toolConfig"]["tools"]] == ["lookup", "answer"]
    assert with_tools["toolConfig"]["toolChoice"] == {"auto": {}}


def test_a_caller_limit_is_kept_when_claude_thinks_and_no_effort_means_no_thinking() -> None:
    limited = _body(_request(params=SamplingParams(max_tokens=9000, reasoning_effort=ReasoningEffort.HIGH)))
    unset = _body(_request(params=SamplingParams(reasoning_effort=ReasoningEffort.NONE)))

    assert limited["inferenceConfig"] == {"maxTokens": 9000}
    assert limited["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 4096}}
    assert "additionalModelRequestFields" not in unset


def test_the_deployments_configured_extras_apply_unless_the_caller_overrides_them() -> None:
    configured = {"top_k": 5, "extra_body": {"performanceConfig": {"latency": "optimized"}, "x": 1}}

    body = _body(_request(extra_body={"x": 2}), extra_params=configured)
    nova = _body(_request(extra_body={"top_k": 7}), "us.amazon.nova-pro-v1:0")

    assert body["additionalModelRequestFields"] == {"top_k": 5, "x": 2}
    assert body["performanceConfig"] == {"latency": "optimized"}
    assert nova["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 7}}


def test_configured_cache_injection_points_end_the_marked_messages_with_cache_points() -> None:
    points = [{"location": "message", "role": "system"}, {"location": "message", "index": -1}]
    request = _request(
        Message(Role.SYSTEM, "A long, stable system prompt."),
        Message(Role.USER, "First question"),
        Message(Role.ASSISTANT, "First answer"),
        Message(Role.USER, "Second question"),
    )

    body = _body(request, credentials=Credentials(extra={"cache_control_injection_points": points}))

    assert body["system"] == [{"text": "A long, stable system prompt."}, {"cachePoint": {"type": "default"}}]
    assert body["messages"][-1] == {
        "role": "user",
        "content": [{"text": "Second question"}, {"cachePoint": {"type": "default"}}],
    }
    assert all({"cachePoint": {"type": "default"}} not in turn["content"] for turn in body["messages"][:-1])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("data:image/bmp;base64,Qk0=", "not image/bmp"),
        ("s3://bucket/scan.tiff", "needs a .png"),
        ("http://example.com/a.png", "does not fetch images"),
    ],
)
def test_images_bedrock_cannot_take_are_refused_naming_the_part(url: str, message: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError, match=message) as raised:
        _body(_request(Message(Role.USER, (TextPart("see"), ImagePart(url)))))

    assert raised.value.param == "messages[0].content[1].image_url"


def test_parameters_converse_cannot_take_are_named_for_drop_params() -> None:
    request = _request(
        params=SamplingParams(
            seed=1, logit_bias={"1": 1.0}, presence_penalty=0.1, frequency_penalty=0.1, logprobs=True,
            top_logprobs=2, user="u", n=2, parallel_tool_calls=False, reasoning_effort=ReasoningEffort.LOW,
        )
    )  # fmt: skip

    assert set(mapping.unsupported(request, _deployment("meta.llama3-70b-instruct-v1:0"))) == {
        "seed", "logit_bias", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "user",
        "n", "parallel_tool_calls", "reasoning_effort",
    }  # fmt: skip
    assert "reasoning_effort" not in mapping.unsupported(request, _deployment())
    assert (
        mapping.unsupported(_request(params=SamplingParams(n=1, parallel_tool_calls=True)), _deployment())
        == []
    )


# Replies.


def _reply(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> bytes:
    return json.dumps(
        {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop, "usage": usage}
    ).encode()


def _read(content: bytes, json_tool: str | None = None) -> Any:
    plan = mapping.Plan({}, json_tool)
    return replies.read_response(content, plan, response_id="r", created=1, model="m")


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("model_context_window_exceeded", FinishReason.LENGTH),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("guardrail_intervened", FinishReason.CONTENT_FILTER),
        ("content_filtered", FinishReason.CONTENT_FILTER),
        ("malformed_model_output", FinishReason.STOP),
    ],
)
def test_each_stop_reason_maps_to_its_finish_reason(stop: str, expected: FinishReason) -> None:
    calls = [{"toolUse": {"toolUseId": "t", "name": "lookup", "input": {}}}] if stop == "tool_use" else []

    (choice,) = _read(_reply([{"text": "x"}, *calls], stop)).choices

    assert choice.finish_reason is expected


def test_reasoning_and_cached_prompt_tokens_are_read_as_the_domain_counts_them() -> None:
    reply = _read(
        _reply(
            [{"reasoningContent": {"reasoningText": {"text": "Think."}}}, {"text": "Done."}],
            inputTokens=12, outputTokens=48, cacheReadInputTokens=1536, cacheWriteInputTokens=512,
        )
    )  # fmt: skip

    (choice,) = reply.choices
    assert (choice.message.content, choice.message.reasoning_content) == ("Done.", "Think.")
    assert reply.usage == Usage(
        prompt_tokens=2060, completion_tokens=48, cached_tokens=1536, cache_creation_tokens=512
    )


def test_a_reply_that_only_calls_tools_has_no_content() -> None:
    (choice,) = _read(
        _reply([{"toolUse": {"toolUseId": "t", "name": "lookup", "input": {"q": "x"}}}], "tool_use")
    ).choices

    assert choice.message.content is None
    assert choice.message.tool_calls == (ToolCall("t", "lookup", '{"q":"x"}'),)


def test_a_reply_that_is_not_a_converse_reply_is_a_bad_gateway() -> None:
    with pytest.raises(errors.BadGatewayError, match="malformed Converse reply"):
        _read(b'{"Output": {}}')


# Stream events.


def _stream(events: list[tuple[str, dict[str, Any]]], json_tool: str | None = None) -> list[Any]:
    reader = replies.StreamReader(response_id="r", created=1, model="m", json_tool=json_tool)
    chunks = [reader.read(kind, json.dumps(payload).encode()) for kind, payload in events]
    return [chunk for chunk in chunks if chunk is not None]


def test_tool_calls_are_numbered_in_order_whatever_block_they_sit_in() -> None:
    chunks = _stream(
        [
            ("messageStart", {"role": "assistant"}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Plan."}}}),
            (
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "s"}}},
            ),
            ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Looking."}}),
            (
                "contentBlockStart",
                {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "a", "name": "lookup"}}},
            ),
            ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"q":'}}}),
            ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '"x"}'}}}),
            ("contentBlockStop", {"contentBlockIndex": 2}),
            (
                "contentBlockStart",
                {"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "b", "name": "now"}}},
            ),
            ("contentBlockStop", {"contentBlockIndex": 3}),
            ("messageStop", {"stopReason": "tool_use"}),
            ("metadata", {"usage": {"inputTokens": 5, "outputTokens": 7}}),
            ("someFutureEvent", {"x": 1}),
        ]
    )

    (choice,) = assemble(chunks).choices
    assert choice.message.reasoning_content == "Plan."
    assert choice.message.content == "Looking."
    assert choice.message.tool_calls == (ToolCall("a", "lookup", '{"q":"x"}'), ToolCall("b", "now", "{}"))
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert chunks[-1].usage == Usage(5, 7) and chunks[-1].choices == ()


def test_the_response_format_tool_streams_as_content_and_finishes_as_a_stop() -> None:
    chunks = _stream(
        [
            ("messageStart", {"role": "assistant"}),
            (
                "contentBlockStart",
                {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "j", "name": "answer"}}},
            ),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"city": '}}}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '"Paris"}'}}}),
            ("contentBlockStop", {"contentBlockIndex": 0}),
            ("messageStop", {"stopReason": "tool_use"}),
        ],
        json_tool="answer",
    )

    (choice,) = assemble(chunks).choices
    assert json.loads(choice.message.content) == {"city": "Paris"}
    assert choice.message.tool_calls == ()
    assert choice.finish_reason is FinishReason.STOP


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        ("contentBlockDelta", b'{"contentBlockIndex": 0}'),
        ("contentBlockDelta", b'{"contentBlockIndex": 0, "delta": {"text": 7}}'),
        ("contentBlockDelta", b'{"contentBlockIndex": "1", "delta": {"toolUse": {"input": "{}"}}}'),
        ("contentBlockDelta", b'{"contentBlockIndex": 0, "delta": {"toolUse": "{}"}}'),
        ("contentBlockDelta", b'{"contentBlockIndex": 0, "delta": {"te'),
        ("contentBlockStart", b'{"contentBlockIndex": 0, "start": {"toolUse": {"name": 3}}}'),
        ("messageStop", b'{"stopReason": ["end_turn"]}'),
        ("metadata", b"[]"),
    ],
)
def test_an_event_whose_payload_is_not_its_shape_is_a_bad_gateway(event_type: str, payload: bytes) -> None:
    reader = replies.StreamReader(response_id="r", created=1, model="m", json_tool=None)

    with pytest.raises(errors.BadGatewayError, match=event_type):
        reader.read(event_type, payload)


# Errors.


def _aws_error(status: int, error_type: str, message: str, **headers: str) -> errors.SwitchyardError:
    all_headers = {
        "x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        **headers,
    }
    return upstream_error(status, json.dumps({"message": message}).encode(), all_headers)


@pytest.mark.parametrize(
    ("status", "error_type", "kind"),
    [
        (400, "ValidationException", errors.BadRequestError),
        (403, "AccessDeniedException", errors.PermissionDeniedError),
        (403, "UnrecognizedClientException", errors.AuthenticationError),
        (403, "ExpiredTokenException", errors.AuthenticationError),
        (403, "InvalidSignatureException", errors.AuthenticationError),
        (404, "ResourceNotFoundException", errors.NotFoundError),
        (429, "ThrottlingException", errors.RateLimitError),
        (408, "ModelTimeoutException", errors.TimeoutError),
        (503, "ServiceUnavailableException", errors.ServiceUnavailableError),
        (500, "InternalServerException", errors.InternalServerError),
        (429, "ModelNotReadyException", errors.ServiceUnavailableError),
        (400, "ServiceQuotaExceededException", errors.RateLimitError),
        (424, "ModelErrorException", errors.BadGatewayError),
        (418, "SomethingNewException", errors.BadRequestError),
    ],
)
def test_each_aws_error_type_is_its_domain_error(status: int, error_type: str, kind: type) -> None:
    error = _aws_error(status, error_type, "It went wrong.")

    assert type(error) is kind
    assert error.message == "It went wrong."
    assert error.code == (kind.default_code or error_type)


def test_a_validation_error_about_length_or_filters_is_refined() -> None:
    too_long = _aws_error(400, "ValidationException", "Input is too long for requested model.")
    filtered = _aws_error(400, "ValidationException", "This request has been blocked by our content filters.")

    assert type(too_long) is errors.ContextWindowExceededError
    assert too_long.code == "context_length_exceeded"
    assert type(filtered) is errors.ContentPolicyViolationError


def test_a_throttle_behind_a_proxy_that_says_when_to_retry_keeps_it() -> None:
    error = _aws_error(429, "ThrottlingException", "Too many requests.", **{"retry-after": "4"})

    assert isinstance(error, errors.RateLimitError) and error.retry_after == 4.0


def test_a_model_error_takes_the_kind_of_the_models_own_status() -> None:
    body = json.dumps(
        {"message": "Model failed.", "originalStatusCode": 429, "originalMessage": "busy"}
    ).encode()

    error = upstream_error(424, body, {"x-amzn-errortype": "ModelErrorException"})

    assert type(error) is errors.RateLimitError
    assert error.message == "Model failed. busy"


def test_an_error_type_in_the_body_is_read_when_the_header_is_missing() -> None:
    error = upstream_error(
        400, b'{"__type": "com.amazon.coral.service#ThrottlingException", "Message": "Slow."}', {}
    )

    assert type(error) is errors.RateLimitError and error.message == "Slow."


def test_a_non_json_error_page_is_mapped_by_its_status_with_its_text() -> None:
    error = upstream_error(502, b"<html><body>502 Bad Gateway</body></html>", {})

    assert type(error) is errors.BadGatewayError
    assert "502 Bad Gateway" in error.message


@pytest.mark.parametrize(
    ("exception_type", "kind"),
    [
        ("throttlingException", errors.RateLimitError),
        ("validationException", errors.BadRequestError),
        ("modelStreamErrorException", errors.BadGatewayError),
        ("serviceUnavailableException", errors.ServiceUnavailableError),
        ("internalServerException", errors.InternalServerError),
    ],
)
def test_a_stream_exception_is_its_domain_error(exception_type: str, kind: type) -> None:
    headers = {":message-type": "exception", ":exception-type": exception_type}

    error = stream_exception(headers, b'{"message": "Stopped."}')

    assert type(error) is kind and error.message == "Stopped."


def test_a_stream_error_message_is_read_from_its_headers() -> None:
    headers = {":message-type": "error", ":error-code": "ThrottlingException", ":error-message": "Slow down."}

    error = stream_exception(headers, b"")

    assert type(error) is errors.RateLimitError and error.message == "Slow down."


# Embeddings.


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("amazon.titan-embed-text-v2:0", "titan"),
        ("amazon.titan-embed-text-v1", "titan"),
        ("cohere.embed-english-v3", "cohere"),
        ("us.cohere.embed-v4:0", "cohere"),
    ],
)
def test_the_embedding_family_is_read_from_the_model_id(model: str, family: str) -> None:
    assert embeddings.family(model) == family


def test_an_embedding_model_bedrock_is_not_served_for_is_refused() -> None:
    with pytest.raises(errors.UnsupportedParameterError):
        embeddings.family("amazon.titan-embed-image-v1")


def test_dimensions_are_refused_for_fixed_size_models_unless_dropped() -> None:
    request = EmbeddingRequest(model="m", inputs=("a",), dimensions=256)

    assert embeddings.dimensions(request, "amazon.titan-embed-text-v2:0", "titan", drop=False) == 256
    assert embeddings.dimensions(request, "cohere.embed-english-v3", "cohere", drop=True) is None
    with pytest.raises(errors.UnsupportedParameterError) as raised:
        embeddings.dimensions(request, "amazon.titan-embed-text-v1", "titan", drop=False)
    assert raised.value.param == "dimensions"


def test_token_arrays_cannot_be_embedded_on_bedrock() -> None:
    with pytest.raises(errors.UnsupportedParameterError) as raised:
        embeddings.texts(EmbeddingRequest(model="m", inputs=((1, 2, 3),)))

    assert raised.value.param == "input"


def test_cohere_replies_of_either_shape_give_one_float_vector_per_text() -> None:
    floats = b'{"id": "1", "response_type": "embeddings_floats", "embeddings": [[0.5, 1.0]], "texts": ["a"]}'
    by_type = b'{"id": "2", "response_type": "embeddings_by_type", "embeddings": {"float": [[0.5, 1.0]]}}'

    assert embeddings.read_cohere(floats, 1) == embeddings.read_cohere(by_type, 1) == [[0.5, 1.0]]
    with pytest.raises(errors.BadGatewayError):
        embeddings.read_cohere(floats, 2)


# Claude's reasoning and stop sequences, as Anthropic clients need them back.

BEDROCK_FIXTURES = Path(__file__).parents[1] / "contract" / "fixtures" / "bedrock"
SIGNED = "EqQBCkYIBxgCKkCq8kZ1lB5jzv7N6ZV0tA4b1xw9zHj2mVxG7l3z"
REDACTED = "RXJyb3IgcmVkYWN0ZWQgdGhpbmtpbmcgZGF0YQ=="


def test_reasoning_blocks_keep_their_signature_or_redacted_data_and_the_stop_sequence_is_named() -> None:
    reply = _read((BEDROCK_FIXTURES / "converse_reasoning_stop_sequence.json").read_bytes())

    (choice,) = reply.choices
    assert choice.message.thinking_blocks == (
        ThinkingBlock("Count to three, then stop at the marker.", signature=SIGNED),
        ThinkingBlock(redacted=REDACTED),
    )
    assert choice.message.reasoning_content == "Count to three, then stop at the marker."
    assert choice.message.content == "1, 2, 3\n"
    assert (choice.finish_reason, choice.stop_sequence) == (FinishReason.STOP, "END")


def test_a_reply_that_asked_for_no_stop_sequence_names_none() -> None:
    (choice,) = _read(_reply([{"text": "Done."}], "stop_sequence")).choices

    assert choice.stop_sequence is None


def test_a_streamed_reasoning_block_ends_with_its_signature_and_a_redacted_one_comes_whole() -> None:
    events = [json.loads(line) for line in (BEDROCK_FIXTURES / "converse_stream_reasoning.jsonl").open()]

    chunks = _stream([(event["event"], event["payload"]) for event in events])

    deltas = [(chunk.choices[0].delta, chunk.choices[0].stop_sequence) for chunk in chunks if chunk.choices]
    assert [
        (d.reasoning_content, d.thinking_signature, d.redacted_thinking, d.content, stop)
        for d, stop in deltas
    ] == [
        (None, None, None, "", None),
        ("Count to three, ", None, None, None, None),
        ("then stop at the marker.", None, None, None, None),
        (None, SIGNED, None, None, None),
        (None, None, REDACTED, None, None),
        (None, None, None, "1, 2, 3\n", None),
        (None, None, None, None, "END"),
    ]
    assert chunks[-2].choices[0].finish_reason is FinishReason.STOP
    assert chunks[-1].usage == Usage(31, 77)


def test_a_document_of_a_type_bedrock_cannot_read_is_named_and_left_out_once_dropped() -> None:
    zipped = DocumentPart("data:application/zip;base64,UEsDBAo=")
    request = _request(Message(Role.USER, (TextPart("Unpack it."), zipped)))

    assert mapping.unsupported(request, _deployment()) == ["documents"]
    assert _body(request)["messages"] == [{"role": "user", "content": [{"text": "Unpack it."}]}]


def test_a_document_in_a_tool_result_is_a_document_block_of_the_result() -> None:
    pdf = DocumentPart("data:application/pdf;base64,JVBERi0=", title="report")
    request = _request(
        Message(Role.USER, "Fetch the report."),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "lookup", "{}"),)),
        Message(Role.TOOL, (TextPart("Here it is."), pdf), tool_call_id="t1"),
    )

    (result,) = _body(request)["messages"][2]["content"]
    assert result["toolResult"]["content"] == [
        {"text": "Here it is."},
        {"document": {"format": "pdf", "name": "report", "source": {"bytes": "JVBERi0="}}},
    ]
