"""What the error translations of the AWS services (Bedrock, SageMaker Runtime) share: the error types
every AWS JSON protocol service answers with
(docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html), the reading of an error type, and
the building of the error once its kind is known."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.llm.upstream_errors import COMMON_STATUSES, retry_after
from domain import errors
from domain.errors import SwitchyardError

COMMON_TYPES: Mapping[str, type[SwitchyardError]] = {
    "UnrecognizedClientException": errors.AuthenticationError,
    "InvalidSignatureException": errors.AuthenticationError,
    "IncompleteSignatureException": errors.AuthenticationError,
    "MissingAuthenticationTokenException": errors.AuthenticationError,
    "ExpiredTokenException": errors.AuthenticationError,
    "InvalidClientTokenId": errors.AuthenticationError,
    "AccessDeniedException": errors.PermissionDeniedError,
    "ThrottlingException": errors.RateLimitError,
    "InternalFailure": errors.InternalServerError,
    "ModelNotReadyException": errors.ServiceUnavailableError,
}
"""The error types both services answer with; each service adds its own."""
STATUSES: Mapping[int, type[SwitchyardError]] = {**COMMON_STATUSES, 424: errors.BadGatewayError}
"""424 is a model (container) error without the model's own status."""


def error_type_of(raw: str) -> str:
    """`ThrottlingException:http://internal.amazon.com/...`, `com.amazon.coral#ThrottlingException` or a
    stream's `throttlingException` -> `ThrottlingException`."""
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name[:1].upper() + name[1:]


def text(details: object, *names: str) -> str | None:
    """The first of `names` that `details` (a JSON object, or anything else) holds as a non-empty string."""
    if not isinstance(details, dict):
        return None
    for name in names:
        value = details.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def status_message(service: str, status: int, body: bytes) -> str:
    """What to say of an error answer whose body names no message: its status and the body's start."""
    sent = body.decode("utf-8", "replace").strip()[:200]
    return f"{service} answered HTTP {status}" + (f": {sent}" if sent else ".")


def aws_error(
    kind: type[SwitchyardError], message: str, error_type: str, headers: Mapping[str, str]
) -> SwitchyardError:
    """The error of `kind`: a kind with a code of its own (rate_limit_exceeded, ...) keeps it, the others
    carry the AWS type, which says more than nothing; a rate limit carries the wait its headers ask for."""
    code = None if kind.default_code is not None else error_type or None
    if kind is errors.RateLimitError:
        return errors.RateLimitError(message, retry_after=retry_after(headers), code=code)
    return kind(message, code=code)
