"""Cohere's v2 replies, stream events and errors read into the domain: the edge cases."""

from __future__ import annotations

import json

import pytest

from adapters.llm.cohere.errors import upstream_error
from adapters.llm.cohere.mapping import StreamReader, read_embeddings, read_response
from domain import errors
from domain.completions import FinishReason, Usage, assemble


def _reply(**changes: object) -> dict:
    reply = {
        "id": "c14c80c3",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": "Hi."}]},
        "usage": {
            "billed_units": {"input_tokens": 5, "output_tokens": 2},
            "tokens": {"input_tokens": 71, "output_tokens": 2},
        },
    }
    return reply | changes


def _reader() -> StreamReader:
    return StreamReader(model="command-a-03-2025", created=1700000000, fallback_id="cohere-fallback")


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("COMPLETE", FinishReason.STOP),
        ("STOP_SEQUENCE", FinishReason.STOP),
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("TOOL_CALL", FinishReason.TOOL_CALLS),
        ("SOMETHING_NEW", FinishReason.STOP),
    ],
)
def test_each_finish_reason_maps_to_openais(reason: str, finish: FinishReason) -> None:
    response = read_response(_reply(finish_reason=reason), model="m", created=1)

    assert response.choices[0].finish_reason is finish


@pytest.mark.parametrize(
    ("reason", "kind"), [("ERROR", errors.InternalServerError), ("TIMEOUT", errors.TimeoutError)]
)
def test_a_generation_that_failed_is_raised_not_returned(
    reason: str, kind: type[errors.SwitchyardError]
) -> None:
    with pytest.raises(kind):
        read_response(_reply(finish_reason=reason), model="m", created=1)


def test_usage_is_what_cohere_bills_not_its_template_inflated_token_count() -> None:
    response = read_response(_reply(), model="m", created=1)

    assert response.usage == Usage(prompt_tokens=5, completion_tokens=2)


def test_usage_falls_back_to_raw_tokens_and_reads_the_early_meta_shape() -> None:
    reply = _reply(
        usage=None, meta={"tokens": {"input_tokens": 215, "output_tokens": 12}, "cached_tokens": 400}
    )

    response = read_response(reply, model="m", created=1)

    assert response.usage == Usage(prompt_tokens=215, completion_tokens=12, cached_tokens=215)


def test_thinking_items_become_reasoning_and_text_items_the_content() -> None:
    content = [{"type": "thinking", "thinking": "Let me see."}, {"type": "text", "text": "Four."}]

    (choice,) = read_response(
        _reply(message={"role": "assistant", "content": content}), model="m", created=1
    ).choices

    assert choice.message.content == "Four."
    assert choice.message.reasoning_content == "Let me see."


def test_a_tool_plan_is_the_reasoning_of_a_tool_call_reply() -> None:
    message = {
        "role": "assistant",
        "tool_plan": "I will search.",
        "tool_calls": [
            {"id": "search_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
        ],
    }

    (choice,) = read_response(
        _reply(message=message, finish_reason="TOOL_CALL"), model="m", created=1
    ).choices

    assert choice.message.content is None
    assert choice.message.reasoning_content == "I will search."
    assert [(call.id, call.name, call.arguments) for call in choice.message.tool_calls] == [
        ("search_1", "search", "{}")
    ]


def test_a_reply_without_a_message_is_a_bad_gateway() -> None:
    with pytest.raises(errors.BadGatewayError):
        read_response({"id": "x", "finish_reason": "COMPLETE"}, model="m", created=1)


def test_parallel_streamed_calls_keep_their_own_index_and_name_themselves_once() -> None:
    reader = _reader()
    events = [
        {
            "type": "message-start",
            "id": "msg-1",
            "delta": {"message": {"role": "assistant", "tool_calls": []}},
        }
    ]
    for index, (call_id, city) in enumerate([("w_1", "Madrid"), ("w_2", "Brasilia")]):
        start = {"id": call_id, "type": "function", "function": {"name": "get_weather", "arguments": ""}}
        events.append(
            {"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": start}}}
        )
        for piece in ['{"location": "', city, '"}']:
            delta = {"message": {"tool_calls": {"function": {"arguments": piece}}}}
            events.append({"type": "tool-call-delta", "index": index, "delta": delta})
        events.append({"type": "tool-call-end", "index": index})
    events.append({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL"}})

    chunks = [chunk for event in events if (chunk := reader.read(event)) is not None]

    (choice,) = assemble(chunks).choices
    assert [(c.id, c.name, json.loads(c.arguments)) for c in choice.message.tool_calls] == [
        ("w_1", "get_weather", {"location": "Madrid"}),
        ("w_2", "get_weather", {"location": "Brasilia"}),
    ]
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert {chunk.id for chunk in chunks} == {"msg-1"}
    assert chunks[-1].usage == Usage()


def test_streamed_thinking_is_reasoning_content_and_events_without_text_say_nothing() -> None:
    reader = _reader()
    events = [
        {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}},
        },
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "Hmm"}}}},
        {"type": "content-end", "index": 0},
        {"type": "citation-start", "index": 0, "delta": {"message": {"citations": {"start": 0}}}},
        {"type": "debug", "prompt": "..."},
        {"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "Yes."}}}},
    ]

    chunks = [chunk for event in events if (chunk := reader.read(event)) is not None]

    assert [(c.choices[0].delta.reasoning_content, c.choices[0].delta.content) for c in chunks] == [
        ("Hmm", None),
        (None, "Yes."),
    ]
    assert chunks[0].choices[0].delta.role == "assistant"  # even without message-start
    assert chunks[0].id == "cohere-fallback"


def test_a_stream_that_ends_in_error_raises_cohere_s_message() -> None:
    event = {
        "type": "message-end",
        "delta": {"finish_reason": "ERROR", "error": "model overloaded mid-stream"},
    }

    with pytest.raises(errors.InternalServerError) as raised:
        _reader().read(event)

    assert raised.value.message == "model overloaded mid-stream"


def test_an_event_without_a_type_is_a_bad_gateway() -> None:
    with pytest.raises(errors.BadGatewayError):
        _reader().read({"delta": {}})


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (400, "too many tokens: size limit exceeded by 11326 tokens.", errors.ContextWindowExceededError),
        (
            400,
            "too many tokens: max tokens must be less than or equal to 4096 - received 8192.",
            errors.BadRequestError,
        ),
        (402, "Please add or update your payment method", errors.PermissionDeniedError),
        (498, "invalid token", errors.AuthenticationError),
        (499, "request cancelled", errors.InternalServerError),
        (501, "not implemented", errors.InternalServerError),
        (418, "teapot", errors.BadRequestError),
    ],
)
def test_error_statuses_and_messages_map_to_their_kinds(
    status: int, message: str, kind: type[errors.SwitchyardError]
) -> None:
    error = upstream_error(status, json.dumps({"message": message}).encode())

    assert type(error) is kind
    assert error.message == message


def test_an_error_body_that_is_not_json_is_quoted_in_the_message() -> None:
    error = upstream_error(500, b"upstream connect error")

    assert error.message == "Cohere answered HTTP 500: upstream connect error"


def test_an_embed_reply_without_float_vectors_is_a_bad_gateway() -> None:
    with pytest.raises(errors.BadGatewayError):
        read_embeddings({"id": "e", "embeddings": {"int8": [[1, 2]]}}, model="embed-v4.0")
