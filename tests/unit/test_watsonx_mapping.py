"""watsonx.ai's replies, stream events and errors read into the domain."""

from __future__ import annotations

import json

import pytest

from adapters.llm.watsonx import mapping
from adapters.llm.watsonx.errors import upstream_error
from domain import errors
from domain.completions import FinishReason, Usage, assemble
from domain.deployments import Credentials, Deployment

DEPLOYMENT = Deployment(
    id="w", model_name="granite", provider="watsonx", upstream_model="ibm/granite-3-8b-instruct",
    api_base="https://us-south.ml.cloud.example", credentials=Credentials(extra={"project_id": "p"}),
)  # fmt: skip


def body(status: int, code: str, message: str) -> bytes:
    return json.dumps(
        {"errors": [{"code": code, "message": message}], "trace": "t", "status_code": status}
    ).encode()


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (400, "json_validation_error", "Json document validation error", errors.BadRequestError),
        (
            400,
            "invalid_input_argument",
            "the number of input tokens 140052 cannot exceed the total tokens limit 131072 for this model",
            errors.ContextWindowExceededError,
        ),
        (
            401,
            "authentication_token_expired",
            "Failed to authenticate the request",
            errors.AuthenticationError,
        ),
        (403, "token_quota_reached", "You have reached your monthly token quota", errors.RateLimitError),
        (403, "authorization_rejected", "Authorization rejected", errors.PermissionDeniedError),
        (404, "model_not_supported", "Model 'x' is not supported", errors.NotFoundError),
        (503, "service_unavailable", "Try again later", errors.ServiceUnavailableError),
        (418, "teapot", "odd", errors.BadRequestError),
    ],
)
def test_each_error_answer_is_its_domain_error_with_watsonx_message(
    status: int, code: str, message: str, kind: type[errors.SwitchyardError]
) -> None:
    error = upstream_error(status, body(status, code, message), {"retry-after": "3"})

    assert type(error) is kind
    assert error.message == message


def test_a_rate_limit_carries_the_retry_after() -> None:
    error = upstream_error(429, body(429, "rate_limit_reached", "slow down"), {"retry-after": "7"})

    assert isinstance(error, errors.RateLimitError) and error.retry_after == 7.0


def test_an_error_event_mid_stream_takes_its_kind_from_its_status_code() -> None:
    error = upstream_error(None, json.loads(body(503, "service_unavailable", "busy")))

    assert type(error) is errors.ServiceUnavailableError


def test_a_body_that_is_not_watsonx_json_still_makes_a_message() -> None:
    error = upstream_error(502, b"<html>Bad Gateway</html>")

    assert type(error) is errors.BadGatewayError
    assert "502" in error.message and "Bad Gateway" in error.message


def test_a_reply_naming_its_model_only_as_model_id_is_given_the_deployments_model() -> None:
    reply = {
        "id": "chat-1", "model_id": "ibm/granite-3-8b-instruct", "created": 1,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }  # fmt: skip

    response = mapping.read_reply(reply, DEPLOYMENT)

    assert response.model == "ibm/granite-3-8b-instruct"
    assert response.choices[0].message.text == "Hi"


def test_an_older_models_stream_is_normalised_to_one_usage_and_one_name_per_call() -> None:
    def chunk(delta: dict, usage: dict, finish: str | None = None) -> dict:
        choice = {"index": 0, "finish_reason": finish, "delta": delta}
        return {"id": "chat-9", "model_id": "m", "created": 5, "choices": [choice], "usage": usage}

    named = {"index": 0, "id": "call-1", "type": "function", "function": {"name": "sum", "arguments": ""}}
    events = [
        chunk({"role": "assistant"}, {"prompt_tokens": 84, "total_tokens": 84}),
        chunk({"tool_calls": [named]}, {"prompt_tokens": 84, "completion_tokens": 4}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "sum", "arguments": '{"a": 1'}}]}, {}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "", "arguments": "}"}}]}, {}, "tool_calls"),
        {
            "id": "chat-9",
            "model_id": "m",
            "choices": [],
            "usage": {"prompt_tokens": 84, "completion_tokens": 25},
        },
    ]
    reader = mapping.StreamReader("ibm/granite-3-8b-instruct")

    chunks = [c for event in events if (c := reader.read(event)) is not None]
    last = reader.last()
    assert last is not None
    chunks.append(last)

    pieces = [call for c in chunks for choice in c.choices for call in choice.delta.tool_calls]
    assert (pieces[0].id, pieces[0].name) == ("call-1", "sum")
    assert all(piece.id is None and piece.name is None for piece in pieces[1:])
    assert [c.usage for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].usage == Usage(prompt_tokens=84, completion_tokens=25)
    assert {c.id for c in chunks} == {"chat-9"}
    (choice,) = assemble(chunks).choices
    assert choice.message.tool_calls[0].arguments == '{"a": 1}'
    assert choice.finish_reason is FinishReason.TOOL_CALLS


def test_a_stream_that_said_nothing_has_no_last_chunk() -> None:
    assert mapping.StreamReader("m").last() is None
