"""Domain replies rendered as the Responses API's `response` object, each checked against the official
SDK's model: output items, names mapped back to the tools the client sent, reasoning that round-trips
through the stored conversation, statuses, usage and failures."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from openai.types.responses import Response

from adapters.responses_format import (
    completion_request,
    error_code,
    failed_response,
    parse_responses_request,
    pending_response,
    render_response,
    visible,
)
from adapters.responses_format.items import REDACTED
from domain.budgets import BudgetExceededError, BudgetLine
from domain.completions import Choice, CompletionResponse, FinishReason, Usage
from domain.errors import (
    BadGatewayError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    RateLimitError,
    UnsupportedParameterError,
)
from domain.messages import Message, Role, ThinkingBlock, ToolCall
from tests.unit.test_responses_format_requests import APPLY_PATCH, GITHUB, WEATHER, body

USAGE = Usage(prompt_tokens=120, completion_tokens=30, cached_tokens=100, reasoning_tokens=12)


def reply(message: Message, finish: FinishReason = FinishReason.STOP, **fields: Any) -> CompletionResponse:
    return CompletionResponse(
        "chatcmpl-1", 1_700_000_000, "upstream-model", (Choice(0, message, finish),), usage=USAGE, **fields
    )


def render(message: Message, finish: FinishReason = FinishReason.STOP, **sent: Any) -> dict[str, Any]:
    call = parse_responses_request(body(**sent))
    rendered = render_response(reply(message, finish), call, response_id="resp_1", created_at=1_700_000_001)
    Response.model_validate(rendered)
    return rendered


def test_a_text_reply_is_a_completed_response_with_one_message() -> None:
    rendered = render(Message(Role.ASSISTANT, "Hello!"), instructions="Be kind.", store=False)

    assert rendered["id"] == "resp_1"
    assert rendered["object"] == "response"
    assert rendered["created_at"] == 1_700_000_001
    assert rendered["status"] == "completed"
    assert rendered["model"] == "gpt-5"  # as the client named it, not the upstream's model
    assert rendered["instructions"] == "Be kind."
    assert rendered["store"] is False
    (item,) = rendered["output"]
    assert item["id"].startswith("msg_")
    assert {**item, "id": "x"} == {
        "id": "x",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello!"}],
    }
    assert Response.model_validate(rendered).output_text == "Hello!"
    assert rendered["usage"] == {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 0},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 150,
    }


def test_the_requests_settings_are_echoed_with_openais_defaults_for_the_rest() -> None:
    schema_format = {"type": "json_schema", "name": "a", "schema": {"type": "object"}, "strict": True}
    rendered = render(
        Message(Role.ASSISTANT, "{}"),
        tools=[WEATHER, {"type": "web_search"}],
        tool_choice="required",
        text={"format": schema_format},
        reasoning={"effort": "low"},
        temperature=0.5,
        max_output_tokens=99,
        metadata={"k": "v"},
        user="u",
    )

    assert rendered["tools"] == [WEATHER, {"type": "web_search"}]
    assert rendered["tool_choice"] == "required"
    assert rendered["text"] == {"format": schema_format, "verbosity": "medium"}
    assert rendered["reasoning"] == {"effort": "low", "summary": None}
    assert (rendered["temperature"], rendered["top_p"], rendered["max_output_tokens"]) == (0.5, 1.0, 99)
    assert (rendered["metadata"], rendered["user"]) == ({"k": "v"}, "u")
    assert rendered["parallel_tool_calls"] is True
    assert rendered["truncation"] == "disabled"
    assert rendered["previous_response_id"] is None
    assert render(Message(Role.ASSISTANT, "x"))["text"] == {"format": {"type": "text"}, "verbosity": "medium"}


def test_parallel_tool_calls_are_function_call_items_keeping_the_upstreams_call_ids() -> None:
    rendered = render(
        Message(
            Role.ASSISTANT,
            tool_calls=(
                ToolCall("call_a", "get_weather", '{"city":"Paris"}'),
                ToolCall("call_b", "get_weather", '{"city":"Rome"}'),
            ),
        ),
        FinishReason.TOOL_CALLS,
        tools=[WEATHER],
    )

    assert rendered["status"] == "completed"
    first, second = rendered["output"]
    assert first["id"].startswith("fc_") and second["id"].startswith("fc_") and first["id"] != second["id"]
    assert {**first, "id": "x"} == {
        "id": "x",
        "type": "function_call",
        "status": "completed",
        "arguments": '{"city":"Paris"}',
        "call_id": "call_a",
        "name": "get_weather",
    }
    assert second["call_id"] == "call_b"


def test_calls_of_flattened_and_custom_tools_are_named_as_the_client_sent_them() -> None:
    rendered = render(
        Message(
            Role.ASSISTANT,
            "Patching.",
            tool_calls=(
                ToolCall("call_1", "apply_patch", '{"input":"*** Begin Patch\\n*** End Patch"}'),
                ToolCall("call_2", "github__create_issue", '{"title":"Bug"}'),
                ToolCall("call_3", "github__run_query", '{"input":"{ viewer { login } }"}'),
                ToolCall("call_4", "apply_patch", "not json"),
            ),
        ),
        tools=[APPLY_PATCH, GITHUB],
    )

    message, patch, issue, query, broken = rendered["output"]
    assert message["type"] == "message"
    assert patch["id"].startswith("ctc_")
    assert {**patch, "id": "x"} == {
        "id": "x",
        "type": "custom_tool_call",
        "call_id": "call_1",
        "input": "*** Begin Patch\n*** End Patch",
        "name": "apply_patch",
    }
    assert (issue["type"], issue["name"], issue["namespace"]) == ("function_call", "create_issue", "github")
    assert (query["type"], query["name"], query["namespace"]) == ("custom_tool_call", "run_query", "github")
    assert query["input"] == "{ viewer { login } }"
    assert broken["input"] == "not json"


def test_custom_and_namespaced_calls_come_back_as_the_same_calls_in_the_next_turn() -> None:
    sent = {"tools": [APPLY_PATCH, GITHUB]}
    call = parse_responses_request(body(**sent))
    calls = (
        ToolCall("call_1", "apply_patch", '{"input":"patch"}'),
        ToolCall("call_2", "github__create_issue", "{}"),
    )
    rendered = render_response(
        reply(Message(Role.ASSISTANT, tool_calls=calls)), call, response_id="resp_1", created_at=1
    )
    history = [*call.input_items, *rendered["output"]]

    again = completion_request(parse_responses_request(body(input="next", **sent)), history)

    assert again.messages[1].tool_calls == calls


def test_reasoning_comes_first_and_its_signature_is_kept_but_shown_only_when_included() -> None:
    message = Message(
        Role.ASSISTANT,
        "42",
        reasoning_content="Think.More.",
        thinking_blocks=(
            ThinkingBlock("Think.", "EqQBsig1=="),
            ThinkingBlock(redacted="opaque=="),
            ThinkingBlock("More.", "EqQBsig2=="),
        ),
    )
    rendered = render(message)

    first, redacted, second, answer = rendered["output"]
    assert first["id"].startswith("rs_")
    assert {**first, "id": "x"} == {
        "id": "x",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Think."}],
        "encrypted_content": "EqQBsig1==",
    }
    assert redacted["summary"] == [] and redacted["encrypted_content"] == REDACTED + "opaque=="
    assert second["encrypted_content"] == "EqQBsig2=="
    assert answer["type"] == "message"
    shown = visible(rendered, frozenset())
    assert all("encrypted_content" not in item for item in shown["output"])
    assert "encrypted_content" in rendered["output"][0]  # a copy: the body kept is untouched
    assert visible(rendered, {"reasoning.encrypted_content"}) == rendered
    Response.model_validate(shown)


def test_signed_reasoning_fed_back_as_history_is_the_same_thinking_blocks() -> None:
    blocks = (ThinkingBlock("Think.", "EqQBsig1=="), ThinkingBlock(redacted="opaque=="))
    call = parse_responses_request(body())
    rendered = render_response(
        reply(Message(Role.ASSISTANT, "42", reasoning_content="Think.", thinking_blocks=blocks)),
        call,
        response_id="resp_1",
        created_at=1,
    )

    again = completion_request(
        parse_responses_request(body(input="Why?")), [*call.input_items, *rendered["output"]]
    )

    assert again.messages == (
        Message(Role.USER, "Hi"),
        Message(Role.ASSISTANT, "42", reasoning_content="Think.", thinking_blocks=blocks),
        Message(Role.USER, "Why?"),
    )


def test_unsigned_reasoning_is_one_reasoning_item_with_no_encrypted_content() -> None:
    rendered = render(Message(Role.ASSISTANT, "ok", reasoning_content="hmm"))

    assert rendered["output"][0]["summary"] == [{"type": "summary_text", "text": "hmm"}]
    assert "encrypted_content" not in rendered["output"][0]


def test_a_refusal_is_a_refusal_part() -> None:
    rendered = render(Message(Role.ASSISTANT, refusal="I can't help with that."))

    assert rendered["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't help with that."}]


@pytest.mark.parametrize(
    ("finish", "reason"),
    [(FinishReason.LENGTH, "max_output_tokens"), (FinishReason.CONTENT_FILTER, "content_filter")],
)
def test_a_reply_cut_short_is_an_incomplete_response(finish: FinishReason, reason: str) -> None:
    rendered = render(Message(Role.ASSISTANT, "Once upon a"), finish)

    assert rendered["status"] == "incomplete"
    assert rendered["incomplete_details"] == {"reason": reason}
    assert rendered["output"][0]["status"] == "incomplete"


def test_log_probabilities_are_rendered_on_the_text_part() -> None:
    logprobs = {
        "content": [
            {
                "token": "Hi",
                "logprob": -0.1,
                "bytes": [72, 105],
                "top_logprobs": [{"token": "Hi", "logprob": -0.1}],
            }
        ]
    }
    call = parse_responses_request(body(top_logprobs=1))
    response = CompletionResponse(
        "c", 1, "m", (Choice(0, Message(Role.ASSISTANT, "Hi"), FinishReason.STOP, logprobs=logprobs),)
    )

    rendered = render_response(response, call, response_id="resp_1", created_at=1)

    Response.model_validate(rendered)
    assert rendered["output"][0]["content"][0]["logprobs"] == [
        {
            "token": "Hi",
            "bytes": [72, 105],
            "logprob": -0.1,
            "top_logprobs": [{"token": "Hi", "bytes": [], "logprob": -0.1}],
        }
    ]
    assert rendered["usage"] is None


def test_a_reply_a_responses_deployment_gave_natively_is_its_own_body() -> None:
    native = {"id": "resp_upstream", "object": "response", "output": [], "custom": {"kept": True}}
    call = parse_responses_request(body())

    rendered = render_response(
        reply(Message(Role.ASSISTANT, "x"), native=native), call, response_id="resp_1", created_at=1
    )

    assert rendered == native and rendered is not native


def test_pending_responses_have_no_output_and_no_usage() -> None:
    call = parse_responses_request(body(background=True, previous_response_id="resp_0"))

    for status in ("queued", "in_progress", "cancelled"):
        pending = pending_response(call, response_id="resp_1", created_at=5, status=status)
        Response.model_validate(pending)
        assert (pending["status"], pending["output"], pending["usage"]) == (status, [], None)
        assert pending["background"] is True and pending["previous_response_id"] == "resp_0"


def test_a_failed_response_carries_the_code_and_message() -> None:
    call = parse_responses_request(body())

    failed = failed_response(call, response_id="resp_1", created_at=5, error=RateLimitError("Slow down"))

    Response.model_validate(failed)
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "rate_limit_exceeded", "message": "Slow down"}
    assert failed["output"] == []


def test_error_codes_are_openais_for_each_kind_of_failure() -> None:
    budget = BudgetExceededError(BudgetLine("key:1", "key 'dev'", Decimal(10)), Decimal(10))

    assert error_code(ContextWindowExceededError("too long")) == "context_length_exceeded"
    assert error_code(RateLimitError("slow")) == "rate_limit_exceeded"
    assert error_code(budget) == "insufficient_quota"
    assert error_code(ContentPolicyViolationError("no")) == "invalid_prompt"
    assert error_code(UnsupportedParameterError("no", param="tools")) == "invalid_prompt"
    assert error_code(BadGatewayError("garbage")) == "server_error"


def test_visible_never_changes_the_body_it_is_given() -> None:
    rendered = render(Message(Role.ASSISTANT, "x", thinking_blocks=(ThinkingBlock("t", "sig"),)))
    kept = copy.deepcopy(rendered)

    visible(rendered, ())

    assert rendered == kept
