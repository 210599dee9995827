"""Failures of Bedrock translated into the domain error tree, in one place.

The error's kind comes from its AWS type (the `x-amzn-ErrorType` header, `ThrottlingException:http://...`,
or a stream exception's `:exception-type`, `throttlingException`), else from the HTTP status:

    ValidationException, ConflictException          -> BadRequestError, refined by the message:
                                                       input too long -> ContextWindowExceededError,
                                                       content filters -> ContentPolicyViolationError
    UnrecognizedClientException, ExpiredToken...,
    InvalidSignatureException, ...                  -> AuthenticationError
    AccessDeniedException                           -> PermissionDeniedError
    ResourceNotFoundException                       -> NotFoundError
    ModelTimeoutException                           -> TimeoutError
    ThrottlingException, ServiceQuotaExceeded...    -> RateLimitError (retry_after from Retry-After)
    InternalServerException                         -> InternalServerError
    ServiceUnavailableException, ModelNotReady...   -> ServiceUnavailableError
    ModelErrorException, ModelStreamErrorException  -> the kind of the model's own status, else
                                                       BadGatewayError
    a malformed event stream                        -> BadGatewayError
    an unlisted status, httpx failures              -> as adapters/llm/upstream_errors.py says
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.llm.bedrock.eventstream import HeaderValue
from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import kind_of_unlisted, retry_after
from domain import errors
from domain.errors import SwitchyardError

_BY_TYPE: dict[str, type[SwitchyardError]] = {
    "ValidationException": errors.BadRequestError,
    "ConflictException": errors.BadRequestError,
    "SerializationException": errors.BadRequestError,
    "UnrecognizedClientException": errors.AuthenticationError,
    "ExpiredTokenException": errors.AuthenticationError,
    "InvalidSignatureException": errors.AuthenticationError,
    "IncompleteSignatureException": errors.AuthenticationError,
    "MissingAuthenticationTokenException": errors.AuthenticationError,
    "InvalidClientTokenId": errors.AuthenticationError,
    "UnauthorizedException": errors.AuthenticationError,
    "AccessDeniedException": errors.PermissionDeniedError,
    "ResourceNotFoundException": errors.NotFoundError,
    "ModelTimeoutException": errors.TimeoutError,
    "ThrottlingException": errors.RateLimitError,
    "ServiceQuotaExceededException": errors.RateLimitError,
    "InternalServerException": errors.InternalServerError,
    "InternalFailure": errors.InternalServerError,
    "ServiceUnavailableException": errors.ServiceUnavailableError,
    "ModelNotReadyException": errors.ServiceUnavailableError,
}
_MODEL_ERRORS = frozenset({"ModelErrorException", "ModelStreamErrorException"})
_BY_STATUS: dict[int, type[SwitchyardError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    408: errors.TimeoutError,
    413: errors.BadRequestError,
    422: errors.UnprocessableEntityError,
    424: errors.BadGatewayError,
    429: errors.RateLimitError,
    500: errors.InternalServerError,
    502: errors.BadGatewayError,
    503: errors.ServiceUnavailableError,
    504: errors.TimeoutError,
}
_CONTEXT_WORDS = re.compile(
    r"input is too long|too many input tokens|prompt is too long|exceeds? the (maximum )?context|"
    r"context (length|window)|maximum context length|too many total text bytes",
    re.I,
)
_POLICY_WORDS = re.compile(r"content filter|blocked by .*filters|responsible ai policy|content policy", re.I)


def upstream_error(status: int, body: bytes, headers: Mapping[str, str]) -> SwitchyardError:
    """The domain error for a Bedrock error answer: status, JSON body `{"message": ...}`, headers."""
    payload = decode_or_none(body)
    error_type = _error_type(headers.get("x-amzn-errortype") or _field(payload, "__type", "code") or "")
    details = payload if isinstance(payload, dict) else {}
    message = _field(details, "message", "Message") or _fallback_message(status, body)
    return _error(error_type, message, status, details, headers)


def stream_exception(headers: Mapping[str, HeaderValue], payload: bytes) -> SwitchyardError:
    """The domain error for an exception (or error) message inside an event stream."""
    if headers.get(":message-type") == "error":
        code = str(headers.get(":error-code") or "")
        message = str(headers.get(":error-message") or "") or f"Bedrock failed mid-stream ({code})."
        return _error(_error_type(code), message, None, {}, {})
    exception_type = str(headers.get(":exception-type") or "")
    details = decode_or_none(payload)
    details = details if isinstance(details, dict) else {}
    message = _field(details, "message", "Message") or f"Bedrock failed mid-stream ({exception_type})."
    return _error(_error_type(exception_type), message, None, details, {})


def _error(
    error_type: str,
    message: str,
    status: int | None,
    details: Mapping[str, object],
    headers: Mapping[str, str],
) -> SwitchyardError:
    kind = _BY_TYPE.get(error_type)
    if error_type in _MODEL_ERRORS:
        original = details.get("originalStatusCode")
        kind = _BY_STATUS.get(original) if isinstance(original, int) else None
        kind = kind or errors.BadGatewayError
        if isinstance(details.get("originalMessage"), str):
            message = f"{message} {details['originalMessage']}"
    if kind is None:
        kind = _BY_STATUS.get(status) if status is not None else errors.InternalServerError
        kind = kind or kind_of_unlisted(status or 500)
    if kind is errors.BadRequestError:
        if _CONTEXT_WORDS.search(message):
            kind = errors.ContextWindowExceededError
        elif _POLICY_WORDS.search(message):
            kind = errors.ContentPolicyViolationError
    # A kind with a code of its own (rate_limit_exceeded, context_length_exceeded, ...) keeps it; the
    # others carry the AWS type, which says more than nothing.
    code = None if kind.default_code is not None else error_type or None
    if kind is errors.RateLimitError:
        return errors.RateLimitError(message, retry_after=retry_after(headers), code=code)
    return kind(message, code=code)


def _error_type(raw: str) -> str:
    """`ThrottlingException:http://internal.amazon.com/...`, `com.amazon.coral#ThrottlingException` or a
    stream's `throttlingException` -> `ThrottlingException`."""
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name[:1].upper() + name[1:]


def _field(payload: object, *names: str) -> str | None:
    if not isinstance(payload, dict):
        return None
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _fallback_message(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()[:200]
    return f"Bedrock answered HTTP {status}" + (f": {text}" if text else ".")
