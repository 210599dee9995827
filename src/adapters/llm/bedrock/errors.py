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

from adapters.llm.aws_errors import COMMON_TYPES, STATUSES, aws_error, error_type_of, status_message, text
from adapters.llm.bedrock.eventstream import HeaderValue
from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import kind_of_unlisted
from domain import errors
from domain.errors import SwitchyardError

_BY_TYPE: dict[str, type[SwitchyardError]] = {
    **COMMON_TYPES,
    "ValidationException": errors.BadRequestError,
    "ConflictException": errors.BadRequestError,
    "SerializationException": errors.BadRequestError,
    "UnauthorizedException": errors.AuthenticationError,
    "ResourceNotFoundException": errors.NotFoundError,
    "ModelTimeoutException": errors.TimeoutError,
    "ServiceQuotaExceededException": errors.RateLimitError,
    "InternalServerException": errors.InternalServerError,
    "ServiceUnavailableException": errors.ServiceUnavailableError,
}
_MODEL_ERRORS = frozenset({"ModelErrorException", "ModelStreamErrorException"})
_CONTEXT_WORDS = re.compile(
    r"input is too long|too many input tokens|prompt is too long|exceeds? the (maximum )?context|"
    r"context (length|window)|maximum context length|too many total text bytes",
    re.I,
)
_POLICY_WORDS = re.compile(r"content filter|blocked by .*filters|responsible ai policy|content policy", re.I)


def upstream_error(status: int, body: bytes, headers: Mapping[str, str]) -> SwitchyardError:
    """The domain error for a Bedrock error answer: status, JSON body `{"message": ...}`, headers."""
    payload = decode_or_none(body)
    error_type = error_type_of(headers.get("x-amzn-errortype") or text(payload, "__type", "code") or "")
    details = payload if isinstance(payload, dict) else {}
    message = text(details, "message", "Message") or status_message("Bedrock", status, body)
    return _error(error_type, message, status, details, headers)


def stream_exception(headers: Mapping[str, HeaderValue], payload: bytes) -> SwitchyardError:
    """The domain error for an exception (or error) message inside an event stream."""
    if headers.get(":message-type") == "error":
        code = str(headers.get(":error-code") or "")
        message = str(headers.get(":error-message") or "") or f"Bedrock failed mid-stream ({code})."
        return _error(error_type_of(code), message, None, {}, {})
    exception_type = str(headers.get(":exception-type") or "")
    details = decode_or_none(payload)
    details = details if isinstance(details, dict) else {}
    message = text(details, "message", "Message") or f"Bedrock failed mid-stream ({exception_type})."
    return _error(error_type_of(exception_type), message, None, details, {})


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
        kind = STATUSES.get(original) if isinstance(original, int) else None
        kind = kind or errors.BadGatewayError
        if isinstance(details.get("originalMessage"), str):
            message = f"{message} {details['originalMessage']}"
    if kind is None:
        kind = STATUSES.get(status) if status is not None else errors.InternalServerError
        kind = kind or kind_of_unlisted(status or 500)
    if kind is errors.BadRequestError:
        if _CONTEXT_WORDS.search(message):
            kind = errors.ContextWindowExceededError
        elif _POLICY_WORDS.search(message):
            kind = errors.ContentPolicyViolationError
    return aws_error(kind, message, error_type, headers)
