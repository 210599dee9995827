"""SageMaker Runtime's failures translated into the domain error tree, in one place.

The kind comes from the AWS error type (`x-amzn-ErrorType`, `ValidationError:http://...`, or a stream
exception's `:exception-type`), else from the HTTP status; the errors are botocore's sagemaker-runtime
model's (docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html, "Errors"):

    ValidationError                                 -> BadRequestError (a prompt over the model's
                                                       limit -> ContextWindowExceededError; a missing
                                                       endpoint -> NotFoundError)
    ModelError (424: the container answered an      -> the kind of its OriginalStatusCode (4xx over the
    error)                                             limit -> ContextWindowExceededError), else
                                                       BadGatewayError (timed out -> TimeoutError);
                                                       OriginalMessage appended
    UnrecognizedClientException, InvalidSignature-
    Exception, ExpiredTokenException, ...           -> AuthenticationError
    AccessDeniedException                           -> PermissionDeniedError
    ThrottlingException                             -> RateLimitError (retry_after from Retry-After)
    InternalFailure, InternalStreamFailure          -> InternalServerError
    ServiceUnavailable, ModelNotReadyException      -> ServiceUnavailableError
    InternalDependencyException                     -> BadGatewayError
    ModelStreamError: ModelInvocationTimeExceeded   -> TimeoutError; StreamBroken -> APIConnectionError
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
    "ValidationError": errors.BadRequestError,
    "InternalStreamFailure": errors.InternalServerError,
    "ServiceUnavailable": errors.ServiceUnavailableError,
    "InternalDependencyException": errors.BadGatewayError,
}
_STREAM_CODES: dict[str, type[SwitchyardError]] = {
    "ModelInvocationTimeExceeded": errors.TimeoutError,
    "StreamBroken": errors.APIConnectionError,
}
# TGI's "`inputs` tokens + `max_new_tokens` must be <= 4096", vLLM's and OpenAI's context messages.
_CONTEXT_WORDS = re.compile(
    r"inputs` tokens \+ `max_new_tokens` must be|context length|context window|input is too long|"
    r"prompt is too long|maximum sequence length",
    re.I,
)


# SageMaker names a missing endpoint in a ValidationError, and a container that did not answer in time in
# a ModelError ("Your invocation timed out while waiting for a response from container primary").
_NOT_FOUND = re.compile(r"endpoint .* not found|could not find endpoint", re.I)
_TIMED_OUT = re.compile(r"timed out", re.I)
_REFINED = (errors.BadRequestError, errors.UnprocessableEntityError, errors.BadGatewayError)


def upstream_error(status: int, body: bytes, headers: Mapping[str, str]) -> SwitchyardError:
    """The domain error for a SageMaker Runtime error answer: status, JSON body, headers."""
    payload = decode_or_none(body)
    details = payload if isinstance(payload, dict) else {}
    error_type = error_type_of(headers.get("x-amzn-errortype") or text(details, "__type", "code") or "")
    message = text(details, "message", "Message") or status_message("SageMaker", status, body)
    kind = _BY_TYPE.get(error_type)
    if error_type == "ModelError":
        original = details.get("OriginalStatusCode") or details.get("originalStatusCode")
        kind = (STATUSES.get(original) if isinstance(original, int) else None) or errors.BadGatewayError
        if extra := text(details, "OriginalMessage", "originalMessage"):
            message = f"{message} {extra}"
    kind = kind or STATUSES.get(status) or kind_of_unlisted(status)
    return _error(kind, message, error_type, headers)


def stream_exception(headers: Mapping[str, HeaderValue], payload: bytes) -> SwitchyardError:
    """The domain error for an exception message inside the response stream."""
    error_type = error_type_of(str(headers.get(":exception-type") or headers.get(":error-code") or ""))
    decoded = decode_or_none(payload)
    details = decoded if isinstance(decoded, dict) else {}
    message = text(details, "Message", "message") or f"SageMaker failed mid-stream ({error_type})."
    kind = _STREAM_CODES.get(text(details, "ErrorCode", "errorCode") or "")
    return _error(kind or _BY_TYPE.get(error_type) or errors.InternalServerError, message, error_type, {})


def _error(
    kind: type[SwitchyardError], message: str, error_type: str, headers: Mapping[str, str]
) -> SwitchyardError:
    if kind in _REFINED:
        if _CONTEXT_WORDS.search(message):
            kind = errors.ContextWindowExceededError
        elif error_type == "ValidationError" and _NOT_FOUND.search(message):
            kind = errors.NotFoundError
        elif _TIMED_OUT.search(message):
            kind = errors.TimeoutError
    return aws_error(kind, message, error_type, headers)
