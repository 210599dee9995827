"""Pure failure decisions: whether a failed deployment cools down, and whether and when to retry."""

from __future__ import annotations

import random

from domain.errors import (
    APIConnectionError,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    ContentPolicyViolationError,
    InternalServerError,
    RateLimitError,
    ServiceUnavailableError,
    SwitchyardError,
    TimeoutError,
)
from domain.router_policy import RouterPolicy

BASE_BACKOFF = 0.5
MAX_BACKOFF = 8.0
"""LiteLLM's initial and largest retry delays, in seconds."""
MAX_RETRY_AFTER = 60.0
"""The longest Retry-After a request waits out in place (LiteLLM's bound). Beyond it the caller is
better served by a fallback, or by the 429 and its Retry-After, than by a request held for minutes."""
MAX_COOLDOWN = 3600.0
"""The longest cooldown an upstream's Retry-After may ask for; a larger one is taken as a bad header."""

# Most specific first: a content policy violation is a bad request too, and its own key wins.
_KINDS: tuple[tuple[type[SwitchyardError] | tuple[type[SwitchyardError], ...], str], ...] = (
    (ContentPolicyViolationError, "ContentPolicyViolationError"),
    (BadRequestError, "BadRequestError"),
    (AuthenticationError, "AuthenticationError"),
    (TimeoutError, "TimeoutError"),
    (RateLimitError, "RateLimitError"),
    (
        (InternalServerError, BadGatewayError, ServiceUnavailableError, APIConnectionError),
        "InternalServerError",
    ),
)
_IMMEDIATE_STATUSES = frozenset({401, 404, 408, 429})


def policy_kind(error: SwitchyardError) -> str | None:
    """The `retry_policy` / `allowed_fails_policy` kind an error counts as; every server-side failure
    (5xx, unreachable upstream) is an InternalServerError there. None: no policy key names it."""
    for classes, kind in _KINDS:
        if isinstance(error, classes):
            return kind
    return None


def cooldown_until(
    error: SwitchyardError, minute_failures: int, policy: RouterPolicy, now: float
) -> float | None:
    """Until when the deployment that raised `error` takes no calls; None: it stays in rotation.

    `minute_failures` counts this minute's failures of the deployment, this one included (what
    `RouterState.finish` returns). A bad request is the caller's fault and never cools a deployment,
    nor does anything under `disable_cooldowns`. A 429, 401, 404, timeout or 5xx says the deployment
    itself is unwell, so it cools at once; other failures once they exceed `allowed_fails`. A per-kind
    `allowed_fails_policy` entry replaces either rule for its kind. An upstream's Retry-After lengthens
    the cooldown to match, so the router does not knock again before the upstream said to.
    """
    if policy.disable_cooldowns or isinstance(error, BadRequestError):
        return None
    kind = policy_kind(error)
    tolerated = policy.allowed_fails_policy.get(f"{kind}AllowedFails") if kind else None
    if tolerated is None:
        immediate = error.status_code in _IMMEDIATE_STATUSES or error.status_code >= 500
        tolerated = 0 if immediate else policy.allowed_fails
    if minute_failures <= tolerated:
        return None
    duration = max(policy.cooldown_time, min(_retry_after(error) or 0.0, MAX_COOLDOWN))
    return now + duration if duration > 0 else None


def retries_allowed(error: SwitchyardError, policy: RouterPolicy) -> int:
    """How many times a request failing this way may be retried: the error kind's `retry_policy`
    entry when there is one (it may allow retrying what is not `retryable`, as in LiteLLM), else
    `num_retries` for retryable errors and none for the rest."""
    kind = policy_kind(error)
    configured = policy.retry_policy.get(f"{kind}Retries") if kind else None
    if configured is not None:
        return configured
    return policy.num_retries if error.retryable else 0


def retry_delay(
    error: SwitchyardError,
    attempt: int,
    policy: RouterPolicy,
    rng: random.Random,
    *,
    elsewhere: bool = False,
) -> float | None:
    """Seconds to wait before retrying after `attempt` (1 for the first call) failed with `error`;
    None: do not retry.

    Exponential backoff with full jitter (0.5 s doubling, capped at 8 s), so that callers failing
    together do not retry together; never less than the error's Retry-After nor the policy's
    `retry_after`. With `elsewhere` (the retry goes to another deployment) the failed deployment's
    backoff and Retry-After do not apply, only the policy's floor. A Retry-After beyond
    `MAX_RETRY_AFTER` means no retry here: fall back, or answer 429 with it.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if attempt > retries_allowed(error, policy):
        return None
    if elsewhere:
        return policy.retry_after
    hinted = _retry_after(error)
    if hinted is not None and hinted > MAX_RETRY_AFTER:
        return None
    backoff = rng.uniform(0.0, min(MAX_BACKOFF, BASE_BACKOFF * 2 ** (attempt - 1)))
    return max(backoff, hinted or 0.0, policy.retry_after)


def _retry_after(error: SwitchyardError) -> float | None:
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value > 0 else None
