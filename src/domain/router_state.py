"""What the router knows of each deployment's load and health at a moment."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import (
    APIConnectionError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SwitchyardError,
    TimeoutError,
)
from domain.frozen import frozen


class FailureKind(StrEnum):
    """What kind of failure put a deployment in cooldown: the class of the error, never its message,
    which may quote an upstream's reply and, in it, a credential."""

    RATE_LIMIT = "rate_limit"
    TIMEOUT = "timeout"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    CONNECTION = "connection"
    SERVER_ERROR = "server_error"
    OTHER = "other"


# Most specific first; anything else of status 5xx is a server error.
_FAILURE_KINDS: tuple[tuple[type[SwitchyardError] | tuple[type[SwitchyardError], ...], FailureKind], ...] = (
    (RateLimitError, FailureKind.RATE_LIMIT),
    (TimeoutError, FailureKind.TIMEOUT),
    ((AuthenticationError, PermissionDeniedError), FailureKind.AUTH),
    (NotFoundError, FailureKind.NOT_FOUND),
    (APIConnectionError, FailureKind.CONNECTION),
)


@frozen
class CooldownReason:
    """Why a deployment is cooling down: the kind and HTTP status of the failure that tripped it."""

    kind: FailureKind
    status_code: int

    @classmethod
    def of(cls, error: SwitchyardError) -> CooldownReason:
        for classes, kind in _FAILURE_KINDS:
            if isinstance(error, classes):
                return cls(kind, error.status_code)
        kind = FailureKind.SERVER_ERROR if error.status_code >= 500 else FailureKind.OTHER
        return cls(kind, error.status_code)


@frozen
class DeploymentLoad:
    """One deployment's shared state, as read in one round trip. Minute counters belong to the current
    wall-clock minute and read as zero once it is over."""

    in_flight: int = 0
    minute_requests: int = 0
    minute_tokens: int = 0
    minute_failures: int = 0
    cooldown_until: float | None = None
    """Wall-clock time (seconds) until which the deployment takes no calls; None when it is healthy."""
    cooldown_reason: CooldownReason | None = None
    """Why it is cooling down, when the cooldown was given one; None when it is healthy."""
    latency: float | None = None
    """Moving average of whole-call latency in seconds; None before the first call."""
    first_token_latency: float | None = None
    """Moving average of the time to a stream's first chunk in seconds; None before the first stream."""

    def cooling_down(self, now: float) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now


IDLE = DeploymentLoad()


@frozen
class CallOutcome:
    """What one finished call adds to its deployment's state."""

    tokens: int = 0
    latency: float | None = None
    first_token_latency: float | None = None
    failed: bool = False
