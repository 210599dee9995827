"""Failures of the Gemini API and Vertex AI translated into the domain error tree, in one place.

Google's error body `{"error": {"code", "message", "status", "details"}}` (Vertex sometimes wraps it in
a one-element list), read by its canonical `status` name, else by the HTTP status:

    INVALID_ARGUMENT, FAILED_PRECONDITION,     400  BadRequestError, refined: a token-limit message ->
    OUT_OF_RANGE, UNIMPLEMENTED                     ContextWindowExceededError; an invalid API key
                                                    (ErrorInfo API_KEY_INVALID) -> AuthenticationError
    UNAUTHENTICATED                            401  AuthenticationError
    PERMISSION_DENIED                          403  PermissionDeniedError
    NOT_FOUND                                  404  NotFoundError
    RESOURCE_EXHAUSTED                         429  RateLimitError (Retry-After, else RetryInfo's delay)
    ABORTED, CANCELLED, INTERNAL, UNKNOWN,     5xx  InternalServerError
    DATA_LOSS
    UNAVAILABLE                                503  ServiceUnavailableError
    DEADLINE_EXCEEDED                          504  TimeoutError

A body that is not Google's (a proxy's HTML page, say) is read by its HTTP status as for OpenAI-format
upstreams; transport failures are translated as adapters/llm/upstream_errors.py says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.llm.json_io import decode_or_none
from adapters.llm.openai.errors import upstream_error
from adapters.llm.upstream_errors import retry_after
from domain import errors
from domain.errors import SwitchyardError

_BY_NAME: dict[str, type[SwitchyardError]] = {
    "INVALID_ARGUMENT": errors.BadRequestError,
    "FAILED_PRECONDITION": errors.BadRequestError,
    "OUT_OF_RANGE": errors.BadRequestError,
    "UNIMPLEMENTED": errors.BadRequestError,
    "ALREADY_EXISTS": errors.BadRequestError,
    "UNAUTHENTICATED": errors.AuthenticationError,
    "PERMISSION_DENIED": errors.PermissionDeniedError,
    "NOT_FOUND": errors.NotFoundError,
    "RESOURCE_EXHAUSTED": errors.RateLimitError,
    "ABORTED": errors.InternalServerError,
    "CANCELLED": errors.InternalServerError,
    "INTERNAL": errors.InternalServerError,
    "UNKNOWN": errors.InternalServerError,
    "DATA_LOSS": errors.InternalServerError,
    "UNAVAILABLE": errors.ServiceUnavailableError,
    "DEADLINE_EXCEEDED": errors.TimeoutError,
}
_BY_STATUS: dict[int, type[SwitchyardError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    408: errors.TimeoutError,
    409: errors.InternalServerError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
    502: errors.BadGatewayError,
    503: errors.ServiceUnavailableError,
    504: errors.TimeoutError,
}
_CONTEXT_WORDS = re.compile(
    r"input token count.*exceeds|exceeds the maximum number of tokens|maximum context length|"
    r"context window|prompt is too long|too many tokens",
    re.I | re.S,
)
_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def google_error(
    status: int | None, body: bytes | object, headers: Mapping[str, str] | None = None
) -> SwitchyardError:
    """The domain error for an error answer: `body` raw or decoded, `status` None for one that came
    inside a stream (or in a 200)."""
    payload = decode_or_none(body) if isinstance(body, bytes) else body
    if isinstance(payload, list) and len(payload) == 1:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return upstream_error(status, body if isinstance(body, bytes) else payload, headers)
    message = error["message"].strip() or f"Google answered {error.get('status') or status}."
    if status is None:
        code = error.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else 500
    name = error.get("status")
    kind = _BY_NAME.get(name) if isinstance(name, str) else None
    if kind is None:
        unlisted = errors.InternalServerError if status >= 500 else errors.BadRequestError
        kind = _BY_STATUS.get(status, unlisted)
    details = error.get("details") if isinstance(error.get("details"), list) else []
    if kind is errors.BadRequestError:
        if _reason(details) in _KEY_REASONS:
            kind = errors.AuthenticationError
        elif _CONTEXT_WORDS.search(message):
            kind = errors.ContextWindowExceededError
    if kind is errors.RateLimitError:
        wait = retry_after(headers or {})
        return errors.RateLimitError(message, retry_after=_retry_delay(details) if wait is None else wait)
    return kind(message)


def _reason(details: list[object]) -> str | None:
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo"):
            reason = detail.get("reason")
            return reason if isinstance(reason, str) else None
    return None


def _retry_delay(details: list[object]) -> float | None:
    """RetryInfo's `retryDelay`, a protobuf Duration in JSON ("7s", "0.5s")."""
    for detail in details:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            found = _SECONDS.match(delay) if isinstance(delay, str) else None
            if found:
                return float(found.group(1))
    return None
