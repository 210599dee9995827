"""Cohere's failures translated into the domain error tree, in one place.

Cohere answers errors with `{"message": "..."}` (docs.cohere.com/reference/errors) and these statuses:

    400 BadRequestError        "too many tokens: ..." about the prompt -> ContextWindowExceededError
    401, 498 AuthenticationError  (498: invalid token, in the SDK)
    402 PermissionDeniedError  (billing limit reached)
    403 PermissionDeniedError · 404 NotFoundError · 408 TimeoutError · 422 UnprocessableEntityError
    429 RateLimitError         (retry_after from Retry-After)
    499 InternalServerError    (request cancelled upstream; the docs say to try again)
    500 InternalServerError · 502 BadGatewayError · 503 ServiceUnavailableError · 504 TimeoutError
A generation that ends with finish_reason ERROR is an InternalServerError, TIMEOUT a TimeoutError.
Unlisted statuses and transport failures are translated as adapters/llm/upstream_errors.py says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import COMMON_STATUSES, status_error
from domain import errors
from domain.errors import SwitchyardError

_BY_STATUS: Mapping[int, type[SwitchyardError]] = {
    **COMMON_STATUSES,
    402: errors.PermissionDeniedError,
    498: errors.AuthenticationError,
    499: errors.InternalServerError,
}
# "too many tokens" also opens the refusal of an oversized max_tokens, which is no context overflow.
_CONTEXT = re.compile(r"too many tokens|context length|context window", re.I)
_OUTPUT_CAP = re.compile(r"max[ _]tokens must be", re.I)


def upstream_error(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> SwitchyardError:
    """The domain error for Cohere's error answer (the raw body as sent)."""
    message = _message(status, body)
    error = status_error(status, message, headers, _BY_STATUS)
    if type(error) is errors.BadRequestError and _CONTEXT.search(message) and not _OUTPUT_CAP.search(message):
        return errors.ContextWindowExceededError(message)
    return error


def generation_failed(finish_reason: str, detail: str | None) -> SwitchyardError:
    """The error for a reply that ended in ERROR or TIMEOUT instead of an answer."""
    if finish_reason == "TIMEOUT":
        return errors.TimeoutError(detail or "Cohere timed out while generating the reply.")
    return errors.InternalServerError(detail or "Cohere failed while generating the reply.")


def _message(status: int, body: bytes) -> str:
    payload = decode_or_none(body)
    if isinstance(payload, dict):
        for key in ("message", "error", "detail"):
            value = payload.get(key)
            if isinstance(value, str) and value:
                return value
    text = body.decode("utf-8", "replace").strip()[:200]
    return f"Cohere answered HTTP {status}" + (f": {text}" if text else ".")
