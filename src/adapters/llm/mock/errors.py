"""Errors provoked on purpose: `mock_response` naming an error the LiteLLM way raises it offline."""

from __future__ import annotations

from domain import errors
from domain.errors import SwitchyardError

_PREFIXES = ("litellm.", "switchyard.")
_KINDS: dict[str, type[SwitchyardError]] = {
    kind.__name__: kind
    for kind in (
        errors.BadRequestError,
        errors.ContextWindowExceededError,
        errors.ContentPolicyViolationError,
        errors.UnsupportedParameterError,
        errors.AuthenticationError,
        errors.PermissionDeniedError,
        errors.NotFoundError,
        errors.TimeoutError,
        errors.UnprocessableEntityError,
        errors.RateLimitError,
        errors.InternalServerError,
        errors.BadGatewayError,
        errors.ServiceUnavailableError,
        errors.APIConnectionError,
    )
} | {
    # LiteLLM's names for the same kinds.
    "Timeout": errors.TimeoutError,
    "APIError": errors.InternalServerError,
    "UnsupportedParamsError": errors.UnsupportedParameterError,
    "APIResponseValidationError": errors.BadGatewayError,
}
MOCK_RETRY_AFTER = 1.0
"""Seconds a mock rate-limit error asks to wait, so that callers cool down as they would for a real 429."""


def mock_error(mock_response: str) -> SwitchyardError | None:
    """The error `mock_response` names ("litellm.RateLimitError", optionally followed by ": message"),
    or None when it is a reply text."""
    if not mock_response.startswith(_PREFIXES):
        return None
    name, _, message = mock_response.partition(":")
    kind = _KINDS.get(name.split(".", 1)[1].strip())
    if kind is None:
        return None
    message = message.strip() or f"This is a mock {kind.__name__}: mock_response asked for it."
    if kind is errors.RateLimitError:
        return errors.RateLimitError(message, retry_after=MOCK_RETRY_AFTER)
    return kind(message)
