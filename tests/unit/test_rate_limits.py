"""The pure rate-limit rules: windows, the admission decision, and the quotas a call is charged to."""

from __future__ import annotations

import pytest

from domain.access import MASTER, Principal, Via
from domain.budgets import BudgetTerms
from domain.identity import NO_LIMITS, Budget, EndUser, Organization, RateLimits, Role, Team, User, VirtualKey
from domain.rate_limits import Admission, Limit, Quota, Usage, decide, quotas_for, reset_after, window_of

NOW = 1_800_000_020.0
"""Twenty seconds into a one-minute window."""
TOKEN = "ab" * 32


def key(limits: RateLimits = NO_LIMITS, budget_id: str | None = None) -> VirtualKey:
    return VirtualKey(
        token=TOKEN, key_name="sk-...abcd", limits=limits, budget=BudgetTerms(budget_id=budget_id)
    )


def caller(**records: object) -> Principal:
    return Principal(via=Via.VIRTUAL_KEY, role=Role.INTERNAL_USER, **records)  # type: ignore[arg-type]


def test_windows_are_whole_minutes_aligned_to_the_clock() -> None:
    assert window_of(0.0) == window_of(59.999) == 0
    assert window_of(60.0) == 1
    assert window_of(NOW + 39.9) == window_of(NOW) != window_of(NOW + 40)


def test_the_reset_is_the_time_left_in_the_window() -> None:
    assert reset_after(NOW) == 40.0
    assert reset_after(NOW - 20) == 60.0
    assert reset_after(NOW + 39.5) == 0.5


def test_a_call_with_room_in_every_quota_is_admitted_and_counted_in_each() -> None:
    limited, free = Quota("key:a", "key", rpm=3, tpm=100, max_parallel=2), Quota("team:t", "team")

    admission = decide([limited, free], [(2, 99, 1), (50, 10_000, 9)], NOW)

    assert admission == Admission(
        True, (Usage(limited, 3, 99, 2), Usage(free, 51, 10_000, 10)), reset_seconds=40.0
    )


def test_the_first_quota_without_room_refuses_the_call_and_nothing_is_counted() -> None:
    user, team, org = (Quota(s, s, rpm=1) for s in ("user:u", "team:t", "organization:o"))

    admission = decide([user, team, org], [(0, 0, 0), (1, 0, 0), (1, 0, 0)], NOW)

    assert not admission.admitted
    assert (admission.refused_by, admission.refused_limit) == (team, Limit.REQUESTS)
    assert admission.usage == (Usage(user, 0, 0, 0), Usage(team, 1, 0, 0), Usage(org, 1, 0, 0))


@pytest.mark.parametrize(
    ("counters", "refused"),
    [
        ((1, 1, 1), Limit.PARALLEL),
        ((1, 1, 0), Limit.REQUESTS),
        ((0, 1, 0), Limit.TOKENS),
        ((0, 0, 0), None),
    ],
)
def test_within_a_quota_parallel_calls_are_checked_before_requests_and_requests_before_tokens(
    counters: tuple[int, int, int], refused: Limit | None
) -> None:
    quota = Quota("key:a", "key", rpm=1, tpm=1, max_parallel=1)

    assert decide([quota], [counters], NOW).refused_limit is refused


def test_tokens_admit_while_the_window_used_fewer_than_the_limit() -> None:
    quota = Quota("key:a", "key", tpm=1000)

    assert decide([quota], [(0, 999, 0)], NOW).admitted
    assert not decide([quota], [(0, 1000, 0)], NOW).admitted


def test_a_limit_of_zero_refuses_every_call() -> None:
    assert decide([Quota("key:a", "key", rpm=0)], [(0, 0, 0)], NOW).refused_limit is Limit.REQUESTS


def test_a_refusal_says_when_to_retry() -> None:
    quota = Quota("key:a", "key", rpm=1, max_parallel=1)

    assert decide([quota], [(1, 0, 0)], NOW).retry_after() == 40.0
    assert decide([quota], [(0, 0, 1)], NOW).retry_after() == 1.0


def test_no_quotas_admit_the_call() -> None:
    assert decide([], [], NOW) == Admission(True, (), reset_seconds=40.0)


def test_counters_must_match_the_quotas() -> None:
    with pytest.raises(ValueError):
        decide([Quota("key:a", "key")], [], NOW)


def test_a_caller_without_limits_is_charged_to_no_quota() -> None:
    assert quotas_for(MASTER, "gpt") == ()
    assert quotas_for(caller(key=key(), team=Team("t")), "gpt") == ()


def test_each_record_that_sets_a_limit_is_a_quota_of_its_own_in_order() -> None:
    limits = RateLimits(rpm_limit=10)
    principal = caller(
        end_user=EndUser("e", limits=RateLimits(max_parallel_requests=2)),
        organization=Organization("o", limits=limits),
        team=Team("t", limits=RateLimits(tpm_limit=500)),
        user=User("u", limits=limits),
        key=key(RateLimits(rpm_limit=1, tpm_limit=2, max_parallel_requests=3)),
    )

    assert quotas_for(principal, None) == (
        Quota(f"key:{TOKEN}", "key", rpm=1, tpm=2, max_parallel=3),
        Quota("user:u", "user", rpm=10),
        Quota("team:t", "team", tpm=500),
        Quota("organization:o", "organization", rpm=10),
        Quota("end_user:e", "end user", max_parallel=2),
    )


def test_per_model_limits_are_a_quota_of_their_own_for_that_model_only() -> None:
    limits = RateLimits(rpm_limit=100, model_rpm_limit={"gpt": 5}, model_tpm_limit={"gpt": 50, "claude": 7})
    principal = caller(key=key(limits))

    assert quotas_for(principal, "gpt") == (
        Quota(f"key:{TOKEN}", "key", rpm=100),
        Quota(f"key:{TOKEN}:model:gpt", "key for model gpt", rpm=5, tpm=50),
    )
    assert quotas_for(principal, "claude")[1] == Quota(
        f"key:{TOKEN}:model:claude", "key for model claude", tpm=7
    )
    assert (
        quotas_for(principal, "mistral")
        == quotas_for(principal, None)
        == (Quota(f"key:{TOKEN}", "key", rpm=100),)
    )


def test_a_budget_fills_in_the_limits_its_record_leaves_unset() -> None:
    budget = Budget("b", limits=RateLimits(rpm_limit=9, tpm_limit=90))
    principal = caller(key=key(RateLimits(rpm_limit=1), budget_id="b"), budgets={"b": budget})

    assert quotas_for(principal, "gpt") == (Quota(f"key:{TOKEN}", "key", rpm=1, tpm=90),)
