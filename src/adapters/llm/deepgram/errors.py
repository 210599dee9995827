"""Deepgram's failures translated into the domain error tree, in one place.

Deepgram answers errors with `{"err_code", "err_msg", "request_id"}`, or on some routes
`{"category", "message", "details", "request_id"}` (developers.deepgram.com/reference/errors), and
these statuses:

    400 BadRequestError          (unreadable audio, a bad query parameter)
    401 AuthenticationError      (INVALID_AUTH)
    402 PermissionDeniedError    (the project is out of credits)
    403 PermissionDeniedError    (INSUFFICIENT_PERMISSIONS: a model the project may not use)
    404 NotFoundError · 408 TimeoutError · 413 BadRequestError (the audio is too large)
    422 UnprocessableEntityError · 429 RateLimitError (retry_after from Retry-After)
    500 InternalServerError · 502 BadGatewayError · 503 ServiceUnavailableError · 504 TimeoutError
Unlisted statuses and transport failures are translated as adapters/llm/upstream_errors.py says.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import COMMON_STATUSES, status_error
from domain import errors
from domain.errors import SwitchyardError

_BY_STATUS = {**COMMON_STATUSES, 402: errors.PermissionDeniedError}


def upstream_error(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> SwitchyardError:
    """The domain error for Deepgram's error answer (the raw body as sent)."""
    return status_error(status, _message(status, body), headers, _BY_STATUS)


def _message(status: int, body: bytes) -> str:
    payload = decode_or_none(body)
    if isinstance(payload, dict):
        said = [payload.get(key) for key in ("err_msg", "message", "details")]
        text = " ".join(part for part in said if isinstance(part, str) and part)
        if text:
            return f"Deepgram: {text}"
    text = body.decode("utf-8", "replace").strip()[:200]
    return f"Deepgram answered HTTP {status}" + (f": {text}" if text else ".")
