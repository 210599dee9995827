"""Failures of the Messages API translated into the domain error tree, in one place.

Anthropic answers `{"type": "error", "error": {"type", "message"}, "request_id"}` with these statuses:

    400 invalid_request_error  -> BadRequestError; ContextWindowExceededError when the prompt is too long
                                  ("prompt is too long: N tokens > M maximum", "... exceed context limit"),
                                  ContentPolicyViolationError for "Output blocked by content filtering policy"
    401 authentication_error   -> AuthenticationError
    402 billing_error          -> PermissionDeniedError
    403 permission_error       -> PermissionDeniedError
    404 not_found_error        -> NotFoundError
    413 request_too_large      -> BadRequestError
    429 rate_limit_error       -> RateLimitError (retry_after: retry-after(-ms), else the
                                  anthropic-ratelimit-*-reset times of the exhausted limits)
    500 api_error              -> InternalServerError
    504 timeout_error          -> TimeoutError
    529 overloaded_error       -> ServiceUnavailableError with code "overloaded_error" (whatever the
                                  body says), so that an Anthropic-format answer can give 529 back

An `error` event inside a stream has no status: its `error.type` says which of the above it is. Other
statuses (a proxy's 502 page, 503, ...) map as OpenAI-format upstreams do. Unlisted statuses and transport
failures are translated as adapters/llm/upstream_errors.py says.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Mapping

from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import COMMON_STATUSES, kind_of_unlisted
from adapters.llm.upstream_errors import retry_after as _standard_retry_after
from domain import errors
from domain.errors import SwitchyardError

OVERLOADED = "overloaded_error"
"""The code of the ServiceUnavailableError for Anthropic's 529 (and an overloaded_error event)."""
_BY_STATUS: Mapping[int, type[SwitchyardError]] = {
    **COMMON_STATUSES,
    402: errors.PermissionDeniedError,
    409: errors.InternalServerError,  # a conflict the SDK retries
    529: errors.ServiceUnavailableError,
}
STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_CONTEXT_WORDS = re.compile(r"prompt is too long|exceed context limit|context window|context length", re.I)
_POLICY_WORDS = re.compile(r"content filtering policy|content policy", re.I)
_RESETS = ("requests", "tokens", "input-tokens", "output-tokens")


def upstream_error(
    status: int | None, body: bytes | object, headers: Mapping[str, str] | None = None
) -> SwitchyardError:
    """The domain error for an error answer: `body` is the raw bytes or the decoded JSON; `status` is
    None for an `error` event inside a stream."""
    payload = decode_or_none(body) if isinstance(body, bytes) else body
    details = payload.get("error") if isinstance(payload, dict) else None
    details = details if isinstance(details, dict) else {}
    kind_name = details.get("type")
    message = details.get("message")
    if not isinstance(message, str) or not message:
        message = _fallback_message(status, kind_name, body)
    if status is None:
        status = STATUS_BY_TYPE.get(kind_name, 500) if isinstance(kind_name, str) else 500
    kind = _BY_STATUS.get(status) or kind_of_unlisted(status)
    if kind is errors.BadRequestError and status == 400:
        if _CONTEXT_WORDS.search(message):
            kind = errors.ContextWindowExceededError
        elif _POLICY_WORDS.search(message):
            kind = errors.ContentPolicyViolationError
    code = kind_name if isinstance(kind_name, str) and kind.default_code is None else None
    if status == 529:
        code = OVERLOADED
    if kind is errors.RateLimitError:
        return errors.RateLimitError(message, retry_after=retry_after(headers or {}))
    return kind(message, code=code)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: retry-after(-ms) when sent, else until the latest reset of the limits that are
    used up (anthropic-ratelimit-<limit>-remaining: 0), else until the latest reset given."""
    standard = _standard_retry_after(headers)
    if standard is not None:
        return standard
    now = time.time()
    exhausted: list[float] = []
    every: list[float] = []
    for limit in _RESETS:
        reset = _timestamp(headers.get(f"anthropic-ratelimit-{limit}-reset"))
        if reset is None:
            continue
        seconds = max(reset - now, 0.0)
        every.append(seconds)
        if headers.get(f"anthropic-ratelimit-{limit}-remaining", "").strip() == "0":
            exhausted.append(seconds)
    chosen = exhausted or every
    return max(chosen) if chosen else None


def _timestamp(value: str | None) -> float | None:
    """An RFC 3339 time (`2024-03-15T12:00:30Z`) as epoch seconds."""
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def _fallback_message(status: int | None, kind_name: object, body: object) -> str:
    text = body.decode("utf-8", "replace").strip()[:200] if isinstance(body, bytes) else ""
    answered = f"HTTP {status}" if status is not None else f"an error event ({kind_name or 'untyped'})"
    return f"Anthropic answered {answered}" + (f": {text}" if text else ".")
