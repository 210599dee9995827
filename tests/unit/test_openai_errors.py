"""How the OpenAI adapter names an upstream's failures in the domain's terms, and reads its SSE."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from adapters.llm.openai.errors import upstream_error
from adapters.llm.upstream_errors import retry_after, transport_error
from domain import errors


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"x-ratelimit-reset-tokens": "6m0s"}, 360.0),
        ({"x-ratelimit-reset-requests": "1h2m3.5s"}, 3723.5),
        ({"x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"x-ratelimit-reset-requests": "120ms", "x-ratelimit-reset-tokens": "2s"}, 2.0),
        ({"x-ratelimit-reset-tokens": "12"}, 12.0),
        ({"x-ratelimit-reset-tokens": "soon"}, None),
        ({"retry-after": "later"}, None),
        ({}, None),
    ],
)
def test_the_wait_is_read_from_retry_after_or_openais_reset_headers(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert retry_after(headers) == (pytest.approx(seconds) if seconds is not None else None)


def test_a_retry_after_date_is_read_as_seconds_from_now() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)

    assert retry_after({"retry-after": when}) == pytest.approx(30, abs=2)


def test_a_429_keeps_the_upstreams_message_code_and_wait() -> None:
    body = (
        b'{"error": {"message": "You exceeded your current quota.",'
        b' "type": "insufficient_quota", "code": "insufficient_quota"}}'
    )

    error = upstream_error(429, body, {"retry-after": "20"})

    assert isinstance(error, errors.RateLimitError)
    assert (error.message, error.code, error.retry_after) == (
        "You exceeded your current quota.",
        "insufficient_quota",
        20.0,
    )


@pytest.mark.parametrize(
    "details",
    [
        {"message": "too long", "code": "context_length_exceeded", "param": "messages"},
        # DeepSeek and vLLM say it in words only.
        {
            "message": "This model's maximum context length is 131072 tokens. However, you requested more.",
            "code": "invalid_request_error",
        },
    ],
)
def test_a_400_about_the_context_window_is_a_context_window_error(details: dict[str, str]) -> None:
    error = upstream_error(400, {"error": details})

    assert type(error) is errors.ContextWindowExceededError
    assert error.code == "context_length_exceeded"


def test_azures_content_filter_is_a_content_policy_violation() -> None:
    body = {
        "error": {
            "message": "The response was filtered due to Azure OpenAI's content management policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
        }
    }

    error = upstream_error(400, body)

    assert type(error) is errors.ContentPolicyViolationError
    assert (error.code, error.param) == ("content_policy_violation", "prompt")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (409, errors.InternalServerError),
        (413, errors.BadRequestError),
        (418, errors.BadRequestError),
        (504, errors.TimeoutError),
        (529, errors.InternalServerError),
        (302, errors.BadGatewayError),
    ],
)
def test_statuses_outside_the_common_ones_still_map_to_a_kind(
    status: int, kind: type[errors.SwitchyardError]
) -> None:
    assert type(upstream_error(status, b"")) is kind


def test_a_body_that_is_not_json_is_quoted_in_the_message() -> None:
    error = upstream_error(503, b"<html><body>upstream connect error</body></html>")

    assert type(error) is errors.ServiceUnavailableError
    assert "upstream connect error" in error.message


def test_a_message_at_the_top_level_is_used_and_a_numeric_code_becomes_a_string() -> None:
    error = upstream_error(422, {"object": "error", "message": "Field required", "code": 422})

    assert type(error) is errors.UnprocessableEntityError
    assert error.message == "Field required"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "slow down", "type": "rate_limit_error"}, errors.RateLimitError),
        ({"message": "busy", "type": "overloaded_error"}, errors.ServiceUnavailableError),
        ({"message": "nope", "type": "invalid_request_error"}, errors.BadRequestError),
        ({"message": "denied", "code": 403}, errors.PermissionDeniedError),
        ({"message": "boom"}, errors.InternalServerError),
        ("a bare string", errors.InternalServerError),
    ],
)
def test_an_error_without_a_status_is_judged_by_its_type(
    error: object, kind: type[errors.SwitchyardError]
) -> None:
    found = upstream_error(None, {"error": error})

    assert type(found) is kind
    assert found.message


def test_an_integer_code_is_rendered_as_a_string() -> None:
    assert upstream_error(500, {"error": {"message": "x", "code": 500}}).code == "500"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectTimeout("connect"), errors.TimeoutError),
        (httpx.ReadTimeout("read"), errors.TimeoutError),
        (httpx.PoolTimeout("pool"), errors.TimeoutError),
        (TimeoutError(), errors.TimeoutError),
        (httpx.ConnectError("refused"), errors.APIConnectionError),
        (httpx.RemoteProtocolError("peer closed connection"), errors.APIConnectionError),
        (httpx.UnsupportedProtocol("ftp"), errors.APIConnectionError),
        (httpx.DecodingError("bad gzip"), errors.BadGatewayError),
    ],
)
def test_transport_failures_map_by_meaning(exc: Exception, kind: type[errors.SwitchyardError]) -> None:
    assert type(transport_error(exc)) is kind


@pytest.mark.parametrize(
    "body", [{"error": {"code": {"nested": 1}, "message": 5, "param": []}}, {"error": []}, [], 5]
)
def test_an_error_body_of_any_odd_shape_still_makes_an_error(body: object) -> None:
    error = upstream_error(400, body)

    assert type(error) is errors.BadRequestError
    assert error.message and error.code is None and error.param is None
