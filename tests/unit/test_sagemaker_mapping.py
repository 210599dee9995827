"""SageMaker Runtime's errors, and TGI's prompt, replies and stream events, read into the domain."""

from __future__ import annotations

import json

import pytest

from adapters.llm.sagemaker import tgi
from adapters.llm.sagemaker.errors import stream_exception, upstream_error
from domain import errors
from domain.completions import FinishReason, Usage
from domain.messages import Message, Role


def aws(error_type: str) -> dict[str, str]:
    return {"x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/com.amazon.sagemaker/"}


def model_error(original_status: int | None, original: str) -> bytes:
    payload: dict[str, object] = {"message": f"Received client error from primary with message {original!r}."}
    if original_status is not None:
        payload |= {"OriginalStatusCode": original_status, "OriginalMessage": original}
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind"),
    [
        (
            400,
            aws("ValidationError"),
            b'{"message": "Value at body failed to satisfy constraint"}',
            errors.BadRequestError,
        ),
        (
            400,
            aws("ValidationError"),
            b'{"message": "Endpoint tgi of account 1 not found."}',
            errors.NotFoundError,
        ),
        (400, aws("ThrottlingException"), b'{"message": "Rate exceeded"}', errors.RateLimitError),
        (
            403,
            aws("InvalidSignatureException"),
            b'{"message": "Signature mismatch"}',
            errors.AuthenticationError,
        ),
        (403, aws("AccessDeniedException"), b'{"message": "not authorized"}', errors.PermissionDeniedError),
        (424, aws("ModelError"), model_error(400, '{"error":"bad json"}'), errors.BadRequestError),
        (424, aws("ModelError"), model_error(429, '{"error":"Model is overloaded"}'), errors.RateLimitError),
        (424, aws("ModelError"), model_error(None, "no status"), errors.BadGatewayError),
        (
            424,
            aws("ModelError"),
            model_error(422, "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 8192"),
            errors.ContextWindowExceededError,
        ),
        (424, aws("ModelError"), model_error(None, "Your invocation timed out"), errors.TimeoutError),
        (500, aws("InternalFailure"), b'{"message": "internal"}', errors.InternalServerError),
        (503, aws("ModelNotReadyException"), b'{"message": "loading"}', errors.ServiceUnavailableError),
        (502, {}, b"<html>Bad Gateway</html>", errors.BadGatewayError),
    ],
)
def test_each_error_answer_is_its_domain_error(
    status: int, headers: dict[str, str], body: bytes, kind: type[errors.SwitchyardError]
) -> None:
    assert type(upstream_error(status, body, headers)) is kind


def test_a_model_errors_original_message_is_kept() -> None:
    error = upstream_error(
        424, model_error(400, '{"error":"temperature must be positive"}'), aws("ModelError")
    )

    assert "temperature must be positive" in error.message
    assert error.code == "ModelError"


@pytest.mark.parametrize(
    ("exception_type", "code", "kind"),
    [
        ("ModelStreamError", "ModelInvocationTimeExceeded", errors.TimeoutError),
        ("ModelStreamError", "StreamBroken", errors.APIConnectionError),
        ("InternalStreamFailure", None, errors.InternalServerError),
    ],
)
def test_an_exception_event_mid_stream_is_its_domain_error(
    exception_type: str, code: str | None, kind: type[errors.SwitchyardError]
) -> None:
    payload = {"Message": "the stream failed", **({"ErrorCode": code} if code else {})}
    headers = {":message-type": "exception", ":exception-type": exception_type}

    error = stream_exception(headers, json.dumps(payload).encode())

    assert type(error) is kind and error.message == "the stream failed"


def test_without_a_template_each_message_is_a_line_and_a_developer_speaks_as_system() -> None:
    template = {"roles": {"system": {"pre_message": "[S]", "post_message": "[/S]"}}}
    messages = (Message(Role.DEVELOPER, "rules"), Message(Role.USER, "hi"))

    assert tgi.prompt(messages, {}) == "rules\nhi\n"
    assert tgi.prompt(messages, template) == "[S]rules[/S]hi\n"


def test_a_containers_reply_without_a_list_or_details_is_read_too() -> None:
    reply = tgi.read_reply({"generation": "Bonjour"}, response_id="r", model="m", created=1)

    assert reply.choices[0].message.text == "Bonjour"
    assert reply.choices[0].finish_reason is FinishReason.STOP
    assert reply.usage == Usage()


def test_a_reply_cut_at_the_token_limit_finishes_with_length_and_counts_its_tokens() -> None:
    details = {"finish_reason": "length", "generated_tokens": 5, "prefill": [{}, {}, {}]}

    reply = tgi.read_reply(
        [{"generated_text": "a b c", "details": details}], response_id="r", model="m", created=1
    )

    assert reply.choices[0].finish_reason is FinishReason.LENGTH
    assert reply.usage == Usage(prompt_tokens=3, completion_tokens=5)


def test_special_tokens_are_not_text_and_the_details_event_ends_the_stream() -> None:
    reader = tgi.StreamReader(response_id="r", model="m", created=1)
    events = [
        {"token": {"id": 1, "text": "Hi", "special": False}},
        {"token": {"id": 2, "text": "<|eot_id|>", "special": True}, "generated_text": "Hi",
         "details": {"finish_reason": "eos_token", "generated_tokens": 2}},
    ]  # fmt: skip

    chunks = [reader.read(event) for event in events]

    assert [c.choices[0].delta.content for c in chunks if c] == ["Hi", None]
    assert chunks[0] is not None and chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1] is not None and chunks[-1].choices[0].finish_reason is FinishReason.STOP
    assert chunks[-1].usage == Usage(completion_tokens=2)
