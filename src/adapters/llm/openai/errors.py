"""Failures of an OpenAI-format upstream translated into the domain error tree, in one place.

HTTP status (+ error body, + rate-limit headers)   -> the kind in _BY_STATUS, refined by the body's
                                                      code: context_length_exceeded -> ContextWindow...,
                                                      content_filter / content_policy_violation ->
                                                      ContentPolicyViolationError
error object with no status (mid-stream event,      -> the status its `type` stands for, then as above
or a 200 whose body is an error)
a status the table does not list; a transport      -> as adapters/llm/upstream_errors.py says
failure
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import COMMON_STATUSES, kind_of_unlisted, retry_after
from domain import errors
from domain.errors import SwitchyardError

_BY_STATUS: Mapping[int, type[SwitchyardError]] = {
    **COMMON_STATUSES,
    409: errors.InternalServerError,  # OpenAI's "conflict, try again": transient, worth a retry
}
# An error object that arrives without a status (mid-stream) says what it is by its type.
_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "timeout_error": 408,
    "rate_limit_error": 429,
    "tokens": 429,
    "requests": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "api_error": 500,
    "service_unavailable": 503,
    "overloaded_error": 503,
}
_CONTEXT_CODES = frozenset({"context_length_exceeded"})
_CONTEXT_WORDS = re.compile(r"maximum context length|context length|context window|prompt is too long", re.I)
_POLICY_CODES = frozenset({"content_filter", "content_policy_violation"})
_POLICY_WORDS = re.compile(r"content management policy|content policy", re.I)


def upstream_error(
    status: int | None, body: bytes | object, headers: Mapping[str, str] | None = None
) -> SwitchyardError:
    """The domain error for an upstream's error answer. `body` is the raw bytes or the decoded JSON
    (`{"error": {...}}`); `status` is None for an error that came inside a stream."""
    payload = decode_or_none(body) if isinstance(body, bytes) else body
    error = payload.get("error") if isinstance(payload, dict) else None
    details = error if isinstance(error, dict) else {}
    message = details.get("message") if details else error
    if not isinstance(message, str) or not message:
        message = _fallback_message(status, payload, body)
    code = details.get("code")
    code = str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None
    if status is None:
        status = _status_of(details)
    kind = _BY_STATUS.get(status) or kind_of_unlisted(status)
    if kind is errors.BadRequestError:
        if code in _CONTEXT_CODES or _CONTEXT_WORDS.search(message):
            kind, code = errors.ContextWindowExceededError, None
        elif code in _POLICY_CODES or _POLICY_WORDS.search(message):
            kind, code = errors.ContentPolicyViolationError, None
    param = details.get("param")
    fields = {"code": code, "param": param if isinstance(param, str) else None}
    if kind is errors.RateLimitError:
        return errors.RateLimitError(message, retry_after=retry_after(headers or {}), **fields)
    return kind(message, **fields)


def _status_of(details: Mapping[str, object]) -> int:
    for key in ("status", "status_code", "code"):
        value = details.get(key)
        if isinstance(value, int) and 400 <= value < 600:
            return value
    kind = details.get("type")
    return _STATUS_BY_TYPE.get(kind, 500) if isinstance(kind, str) else 500


def _fallback_message(status: int | None, payload: object, body: object) -> str:
    # Some OpenAI-compatible hosts (vLLM, FastAPI apps) put the message at the top level.
    for key in ("message", "detail"):
        if isinstance(payload, dict) and isinstance(payload.get(key), str) and payload[key]:
            return payload[key]
    text = body.decode("utf-8", "replace").strip()[:200] if isinstance(body, bytes) else ""
    answered = f"HTTP {status}" if status is not None else "an error"
    return f"The upstream answered {answered}" + (f": {text}" if text else ".")
