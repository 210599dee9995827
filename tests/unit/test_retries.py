"""When a failing deployment cools down, and whether and when a failed request is retried."""

from __future__ import annotations

import random

import pytest

from domain.errors import (
    APIConnectionError,
    AuthenticationError,
    BadGatewayError,
    BadRequestError,
    ContentPolicyViolationError,
    ContextWindowExceededError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    SwitchyardError,
    TimeoutError,
    UnprocessableEntityError,
)
from domain.retries import MAX_BACKOFF, MAX_COOLDOWN, cooldown_until, retries_allowed, retry_delay
from domain.router_policy import RouterPolicy
from domain.router_state import CooldownReason, FailureKind

NOW = 1000.0
POLICY = RouterPolicy(cooldown_time=30, allowed_fails=2)

# cooldowns


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("slow down"),
        AuthenticationError("bad key"),
        NotFoundError("no such model"),
        TimeoutError("too slow"),
        InternalServerError("boom"),
        BadGatewayError("garbage"),
        ServiceUnavailableError("overloaded"),
        APIConnectionError("unreachable"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_deployment_that_is_itself_unwell_cools_down_at_its_first_failure(error: SwitchyardError) -> None:
    assert cooldown_until(error, 1, POLICY, NOW) == NOW + 30


@pytest.mark.parametrize(
    "error",
    [BadRequestError("bad"), ContextWindowExceededError("long"), ContentPolicyViolationError("no")],
    ids=lambda e: type(e).__name__,
)
def test_a_bad_request_is_the_callers_fault_and_never_cools_a_deployment(error: SwitchyardError) -> None:
    assert cooldown_until(error, 100, POLICY, NOW) is None


@pytest.mark.parametrize(
    "error", [PermissionDeniedError("no"), UnprocessableEntityError("odd")], ids=lambda e: type(e).__name__
)
def test_other_failures_cool_a_deployment_once_they_exceed_allowed_fails_this_minute(
    error: SwitchyardError,
) -> None:
    assert cooldown_until(error, 2, POLICY, NOW) is None
    assert cooldown_until(error, 3, POLICY, NOW) == NOW + 30


def test_no_failure_cools_a_deployment_when_cooldowns_are_disabled() -> None:
    policy = RouterPolicy(disable_cooldowns=True)

    assert cooldown_until(RateLimitError("slow down"), 50, policy, NOW) is None


def test_an_allowed_fails_policy_entry_tolerates_that_many_failures_of_its_kind() -> None:
    policy = RouterPolicy(cooldown_time=10, allowed_fails_policy={"RateLimitErrorAllowedFails": 3})

    assert cooldown_until(RateLimitError("slow down"), 3, policy, NOW) is None
    assert cooldown_until(RateLimitError("slow down"), 4, policy, NOW) == NOW + 10
    assert cooldown_until(TimeoutError("slow"), 1, policy, NOW) == NOW + 10  # other kinds keep their rule


def test_server_errors_of_every_sort_count_as_internal_server_errors_in_the_policy() -> None:
    policy = RouterPolicy(allowed_fails_policy={"InternalServerErrorAllowedFails": 1})

    assert cooldown_until(ServiceUnavailableError("busy"), 1, policy, NOW) is None
    assert cooldown_until(APIConnectionError("down"), 2, policy, NOW) is not None


def test_an_upstream_retry_after_lengthens_the_cooldown_to_match_within_bounds() -> None:
    assert cooldown_until(RateLimitError("wait", retry_after=120), 1, POLICY, NOW) == NOW + 120
    assert cooldown_until(RateLimitError("wait", retry_after=5), 1, POLICY, NOW) == NOW + 30
    assert cooldown_until(RateLimitError("wait", retry_after=1e9), 1, POLICY, NOW) == NOW + MAX_COOLDOWN


def test_a_zero_cooldown_time_means_no_cooldown() -> None:
    assert cooldown_until(InternalServerError("boom"), 5, RouterPolicy(cooldown_time=0), NOW) is None


# retries


def test_a_retryable_failure_is_retried_num_retries_times_then_given_up() -> None:
    policy = RouterPolicy(num_retries=2)
    rng = random.Random(3)

    assert retry_delay(InternalServerError("boom"), 1, policy, rng) is not None
    assert retry_delay(InternalServerError("boom"), 2, policy, rng) is not None
    assert retry_delay(InternalServerError("boom"), 3, policy, rng) is None


@pytest.mark.parametrize(
    "error",
    [BadRequestError("bad"), AuthenticationError("key"), NotFoundError("gone"), PermissionDeniedError("no")],
    ids=lambda e: type(e).__name__,
)
def test_a_failure_that_would_fail_again_is_not_retried(error: SwitchyardError) -> None:
    assert retry_delay(error, 1, RouterPolicy(num_retries=5), random.Random(1)) is None


def test_a_retry_policy_entry_sets_the_retries_of_its_kind_over_num_retries() -> None:
    policy = RouterPolicy(
        num_retries=3,
        retry_policy={
            "RateLimitErrorRetries": 0,
            "BadRequestErrorRetries": 1,
            "ContentPolicyViolationErrorRetries": 2,
        },
    )

    assert retries_allowed(RateLimitError("slow"), policy) == 0
    assert retries_allowed(BadRequestError("bad"), policy) == 1
    assert retries_allowed(ContentPolicyViolationError("no"), policy) == 2  # its own key, not BadRequest's
    assert retries_allowed(TimeoutError("slow"), policy) == 3
    assert retry_delay(BadRequestError("bad"), 1, policy, random.Random(1)) is not None


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 8])
def test_backoff_is_exponential_with_full_jitter_and_capped(attempt: int) -> None:
    policy = RouterPolicy(num_retries=10)
    rng = random.Random(attempt)
    ceiling = min(MAX_BACKOFF, 0.5 * 2 ** (attempt - 1))

    delays = [retry_delay(TimeoutError("slow"), attempt, policy, rng) for _ in range(500)]

    assert all(d is not None and 0 <= d <= ceiling for d in delays)
    assert max(d for d in delays if d is not None) > ceiling * 0.9  # the whole range is used
    assert min(d for d in delays if d is not None) < ceiling * 0.1


def test_a_retry_waits_at_least_the_upstreams_retry_after_and_the_policys_floor() -> None:
    rng = random.Random(5)

    assert retry_delay(RateLimitError("wait", retry_after=12), 1, RouterPolicy(), rng) == 12
    assert retry_delay(RateLimitError("wait"), 1, RouterPolicy(retry_after=3), rng) == 3


def test_a_retry_after_longer_than_a_request_should_wait_means_no_retry_here() -> None:
    assert retry_delay(RateLimitError("wait", retry_after=600), 1, RouterPolicy(), random.Random(1)) is None


def test_a_retry_on_another_deployment_owes_nothing_to_the_failed_ones_backoff_or_retry_after() -> None:
    error = RateLimitError("wait", retry_after=600)

    assert retry_delay(error, 1, RouterPolicy(), random.Random(1), elsewhere=True) == 0
    assert retry_delay(error, 1, RouterPolicy(retry_after=2), random.Random(1), elsewhere=True) == 2


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        retry_delay(TimeoutError("slow"), 0, RouterPolicy(), random.Random(1))


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (RateLimitError("slow down, key sk-secret"), FailureKind.RATE_LIMIT, 429),
        (TimeoutError("took too long"), FailureKind.TIMEOUT, 408),
        (AuthenticationError("bad key"), FailureKind.AUTH, 401),
        (PermissionDeniedError("no"), FailureKind.AUTH, 403),
        (NotFoundError("no such model"), FailureKind.NOT_FOUND, 404),
        (APIConnectionError("refused"), FailureKind.CONNECTION, 502),
        (ServiceUnavailableError("down"), FailureKind.SERVER_ERROR, 503),
        (BadGatewayError("bad gateway"), FailureKind.SERVER_ERROR, 502),
        (InternalServerError("boom"), FailureKind.SERVER_ERROR, 500),
        (UnprocessableEntityError("odd"), FailureKind.OTHER, 422),
    ],
)
def test_a_cooldown_reason_names_the_failure_by_kind_and_status_never_by_message(
    error: SwitchyardError, kind: FailureKind, status: int
) -> None:
    assert CooldownReason.of(error) == CooldownReason(kind, status)
