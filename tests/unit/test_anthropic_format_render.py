"""Domain replies and errors as Anthropic's JSON: stop reasons, usage without the cache counts, ids, tool
inputs, and the error table."""

from __future__ import annotations

import pytest

from adapters.anthropic_format import render_error, render_message
from domain import errors
from domain.completions import Choice, CompletionResponse, FinishReason, Usage
from domain.messages import Message, Role, ThinkingBlock, ToolCall


def reply(
    message: Message, finish: FinishReason | None = FinishReason.STOP, **fields: object
) -> CompletionResponse:
    stop_sequence = fields.pop("stop_sequence", None)
    choice = Choice(0, message, finish, stop_sequence=stop_sequence)  # type: ignore[arg-type]
    return CompletionResponse(id="chatcmpl-1", created=0, model="upstream", choices=(choice,), **fields)  # type: ignore[arg-type]


def test_a_text_reply_is_one_text_block_under_the_asked_model_name() -> None:
    rendered = render_message(reply(Message(Role.ASSISTANT, "Hi!"), usage=Usage(9, 3)), "my-claude")

    assert rendered == {
        "id": "msg_chatcmpl-1",
        "type": "message",
        "role": "assistant",
        "model": "my-claude",
        "content": [{"type": "text", "text": "Hi!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 9,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 3,
        },
    }


def test_an_anthropic_message_id_is_kept_as_it_is() -> None:
    response = CompletionResponse(id="msg_01XFDUDYJgAACzvnptvVoYEL", created=0, model="m", choices=())

    assert render_message(response, "m")["id"] == "msg_01XFDUDYJgAACzvnptvVoYEL"


def test_input_tokens_leave_out_the_cache_reads_and_writes_that_prompt_tokens_hold() -> None:
    usage = Usage(prompt_tokens=1500, completion_tokens=20, cached_tokens=1000, cache_creation_tokens=300)

    rendered = render_message(reply(Message(Role.ASSISTANT, "x"), usage=usage), "m")

    assert rendered["usage"] == {
        "input_tokens": 200,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 1000,
        "output_tokens": 20,
    }


@pytest.mark.parametrize(
    ("finish", "calls", "stop_sequence", "expected"),
    [
        (FinishReason.STOP, False, None, "end_turn"),
        (None, False, None, "end_turn"),
        (FinishReason.LENGTH, False, None, "max_tokens"),
        (FinishReason.TOOL_CALLS, True, None, "tool_use"),
        (FinishReason.FUNCTION_CALL, True, None, "tool_use"),
        (FinishReason.CONTENT_FILTER, False, None, "refusal"),
        (FinishReason.STOP, False, "END", "stop_sequence"),
        # Some providers say "stop" after calling tools; Anthropic clients run tools only on tool_use.
        (FinishReason.STOP, True, None, "tool_use"),
        (None, True, None, "tool_use"),
        (FinishReason.LENGTH, True, None, "max_tokens"),
    ],
)
def test_the_stop_reason_follows_the_finish_reason(
    finish: FinishReason | None, calls: bool, stop_sequence: str | None, expected: str
) -> None:
    tool_calls = (ToolCall("call_1", "f", "{}"),) if calls else ()
    message = Message(Role.ASSISTANT, "x", tool_calls=tool_calls)

    rendered = render_message(reply(message, finish, stop_sequence=stop_sequence), "m")

    assert rendered["stop_reason"] == expected
    assert rendered["stop_sequence"] == (stop_sequence if expected == "stop_sequence" else None)


def test_tool_arguments_that_are_no_json_object_become_an_empty_input() -> None:
    calls = (
        ToolCall("call_1", "f", '{"a": 1'),
        ToolCall("call_2", "f", "[1, 2]"),
        ToolCall("call_3", "f", ""),
        ToolCall("call_4", "f", '{"a": [1]}'),
    )

    rendered = render_message(reply(Message(Role.ASSISTANT, None, tool_calls=calls)), "m")

    assert [block["input"] for block in rendered["content"]] == [{}, {}, {}, {"a": [1]}]


def test_signed_and_redacted_thinking_blocks_come_first_in_their_order() -> None:
    message = Message(
        Role.ASSISTANT,
        "4",
        reasoning_content="2+2",
        thinking_blocks=(ThinkingBlock("2+2", signature="sig"), ThinkingBlock(redacted="opaque")),
    )

    rendered = render_message(reply(message), "m")

    assert rendered["content"] == [
        {"type": "thinking", "thinking": "2+2", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "4"},
    ]


def test_a_refusal_is_the_text_of_a_refusal_stop() -> None:
    message = Message(Role.ASSISTANT, None, refusal="I can't help with that.")

    rendered = render_message(reply(message, FinishReason.CONTENT_FILTER), "m")

    assert rendered["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert rendered["stop_reason"] == "refusal"


def test_a_reply_without_usage_reports_zeros() -> None:
    assert render_message(reply(Message(Role.ASSISTANT, "x")), "m")["usage"]["output_tokens"] == 0


ERRORS = [
    (errors.BadRequestError("bad"), 400, "invalid_request_error"),
    (errors.ContextWindowExceededError("prompt is too long"), 400, "invalid_request_error"),
    (errors.UnsupportedParameterError("no", param="tools"), 400, "invalid_request_error"),
    (errors.BadRequestError("over budget", code="budget_exceeded"), 400, "invalid_request_error"),
    (errors.BadRequestError("Request body is too large", code="request_too_large"), 413, "request_too_large"),
    (errors.AuthenticationError("Invalid API key."), 401, "authentication_error"),
    (errors.PermissionDeniedError("no credit", code="billing_error"), 402, "billing_error"),
    (errors.PermissionDeniedError("not this model"), 403, "permission_error"),
    (errors.NotFoundError("no such model", code="model_not_found"), 404, "not_found_error"),
    (errors.TimeoutError("took too long"), 504, "timeout_error"),
    (errors.UnprocessableEntityError("odd"), 422, "invalid_request_error"),
    (errors.RateLimitError("slow down", retry_after=3), 429, "rate_limit_error"),
    (errors.InternalServerError("boom"), 500, "api_error"),
    (errors.BadGatewayError("garbage upstream"), 502, "api_error"),
    (errors.APIConnectionError("unreachable"), 502, "api_error"),
    (errors.ServiceUnavailableError("Overloaded", code="overloaded_error"), 529, "overloaded_error"),
    (errors.ServiceUnavailableError("database starting"), 503, "api_error"),
    (errors.SwitchyardError("unknown"), 500, "api_error"),
]


@pytest.mark.parametrize(("error", "status", "kind"), ERRORS, ids=[f"{s}-{k}" for _, s, k in ERRORS])
def test_each_domain_error_answers_with_anthropics_status_and_type(
    error: errors.SwitchyardError, status: int, kind: str
) -> None:
    assert render_error(error) == (
        status,
        {"type": "error", "error": {"type": kind, "message": error.message}},
    )


def test_a_refused_parameter_is_named_as_the_anthropic_client_sent_it() -> None:
    from adapters.anthropic_format import render_error
    from domain.errors import UnsupportedParameterError

    error = UnsupportedParameterError(
        "openai does not support the parameter 'thinking_budget' for model gpt-x; send drop_params: true",
        param="thinking_budget",
    )

    status, body = render_error(error)

    assert status == 400
    assert "'thinking.budget_tokens'" in body["error"]["message"]
    assert "thinking_budget" not in body["error"]["message"]
