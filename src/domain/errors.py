"""The one error tree of Switchyard.

Every failure a caller can see is one of these. Each kind maps one to one to an OpenAI error type and
HTTP status (the table lives in the HTTP adapter); each carries the provider, model and deployment it
came from, when known.

    SwitchyardError
     ├── BadRequestError                 400 invalid_request_error
     │    ├── ContextWindowExceededError      code context_length_exceeded
     │    ├── ContentPolicyViolationError     code content_policy_violation
     │    ├── UnsupportedParameterError       code unsupported_parameter (param names it)
     │    ├── ConflictError                   code already_exists (a record with that id or alias exists)
     │    ├── GuardrailViolationError         code guardrail_violation (a guardrail blocked the call)
     │    └── RequestTooLargeError       413 code request_too_large (param names the field too large)
     ├── AuthenticationError             401 authentication_error
     ├── PermissionDeniedError           403 permission_error
     ├── NotFoundError                   404 invalid_request_error (code model_not_found for models)
     ├── TimeoutError                    408 timeout_error
     ├── UnprocessableEntityError        422 invalid_request_error
     ├── RateLimitError                  429 rate_limit_error (retry_after seconds)
     ├── InternalServerError             500 server_error
     ├── BadGatewayError                 502 bad_gateway (upstream answered garbage or 502)
     ├── ServiceUnavailableError         503 service_unavailable
     ├── APIConnectionError              502 api_connection_error (upstream unreachable)
     └── ClientClosedRequestError        499 client_closed_request (the caller left mid-answer; only
                                              ever recorded, there is no one left to answer)

`retryable` says whether the same request may succeed on another attempt or deployment.
"""

from __future__ import annotations

from typing import ClassVar


class SwitchyardError(Exception):
    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        deployment: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param
        self.provider = provider
        self.model = model
        self.deployment = deployment

    def __str__(self) -> str:
        return self.message

    def at(self, *, provider: str | None, model: str | None, deployment: str | None) -> SwitchyardError:
        """Fills in where the error came from, keeping what is already known."""
        self.provider = self.provider or provider
        self.model = self.model or model
        self.deployment = self.deployment or deployment
        return self


class BadRequestError(SwitchyardError):
    status_code = 400
    error_type = "invalid_request_error"


class RequestTooLargeError(BadRequestError):
    status_code = 413
    default_code = "request_too_large"


class ContextWindowExceededError(BadRequestError):
    default_code = "context_length_exceeded"


class ContentPolicyViolationError(BadRequestError):
    default_code = "content_policy_violation"


class UnsupportedParameterError(BadRequestError):
    default_code = "unsupported_parameter"


class ConflictError(BadRequestError):
    default_code = "already_exists"


class GuardrailViolationError(BadRequestError):
    """A guardrail blocked the call: the message names the guardrail and its reason, never the text it
    found."""

    default_code = "guardrail_violation"

    def __init__(self, guardrail: str, reason: str, **kwargs: object) -> None:
        why = f": {reason}" if reason else ""
        super().__init__(f"Blocked by guardrail '{guardrail}'{why}", **kwargs)  # type: ignore[arg-type]
        self.guardrail = guardrail
        self.reason = reason


class AuthenticationError(SwitchyardError):
    status_code = 401
    error_type = "authentication_error"


class PermissionDeniedError(SwitchyardError):
    status_code = 403
    error_type = "permission_error"


class NotFoundError(SwitchyardError):
    status_code = 404
    error_type = "invalid_request_error"


class TimeoutError(SwitchyardError):
    status_code = 408
    error_type = "timeout_error"
    retryable = True


class UnprocessableEntityError(SwitchyardError):
    status_code = 422
    error_type = "invalid_request_error"


class RateLimitError(SwitchyardError):
    status_code = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(SwitchyardError):
    status_code = 500
    error_type = "server_error"
    retryable = True


class BadGatewayError(SwitchyardError):
    status_code = 502
    error_type = "bad_gateway"
    retryable = True


class ServiceUnavailableError(SwitchyardError):
    status_code = 503
    error_type = "service_unavailable"
    retryable = True


class APIConnectionError(SwitchyardError):
    status_code = 502
    error_type = "api_connection_error"
    retryable = True


class ClientClosedRequestError(SwitchyardError):
    status_code = 499
    error_type = "client_closed_request"


class ConfigurationError(Exception):
    """Raised at startup for an invalid configuration; `path` names the offending config path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message
