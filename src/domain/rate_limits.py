"""Rate limits on callers: the quotas a call is charged to, and the pure admission decision.

Requests and tokens are counted in fixed windows of one minute aligned to the clock (the window of a
moment `now` is `int(now // 60)`), as LiteLLM counts them; in-flight calls are counted until released.
A call is admitted only when every quota it is charged to has room, and then it is counted in all of them
(all or nothing). Tokens are known only after the call, so `tpm` admits while the tokens already used in
the window are below the limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from domain.access import Principal, effective_limits
from domain.frozen import frozen

WINDOW_SECONDS = 60


def window_of(now: float) -> int:
    return int(now // WINDOW_SECONDS)


def reset_after(now: float) -> float:
    """Seconds until the current window ends."""
    return WINDOW_SECONDS - (now % WINDOW_SECONDS)


@frozen
class Quota:
    """One set of counters a call is charged to. `subject` is unique per counter set (`key:<hash>`,
    `team:<id>`, `key:<hash>:model:<name>`); `label` says in an error which limit it is."""

    subject: str
    label: str
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None


class Limit(StrEnum):
    REQUESTS = "rpm"
    TOKENS = "tpm"
    PARALLEL = "max_parallel_requests"


@frozen
class Usage:
    """A quota's counters in the current window, after the decision (the admitted call included)."""

    quota: Quota
    requests: int
    tokens: int
    in_flight: int


@frozen
class Admission:
    admitted: bool
    usage: tuple[Usage, ...]
    refused_by: Quota | None = None
    refused_limit: Limit | None = None
    reset_seconds: float = 0.0
    """Seconds until the window ends (when a refused rpm/tpm quota has room again)."""

    def retry_after(self) -> float:
        return 1.0 if self.refused_limit is Limit.PARALLEL else self.reset_seconds


def decide(quotas: Sequence[Quota], counters: Sequence[tuple[int, int, int]], now: float) -> Admission:
    """Admission from each quota's (requests, tokens, in-flight) counters before this call: every quota
    must have room; the result's usage counts the call when admitted."""
    reset = reset_after(now)
    for quota, (requests, tokens, in_flight) in zip(quotas, counters, strict=True):
        refused = None
        if quota.max_parallel is not None and in_flight >= quota.max_parallel:
            refused = Limit.PARALLEL
        elif quota.rpm is not None and requests >= quota.rpm:
            refused = Limit.REQUESTS
        elif quota.tpm is not None and tokens >= quota.tpm:
            refused = Limit.TOKENS
        if refused is not None:
            usage = tuple(Usage(q, r, t, f) for q, (r, t, f) in zip(quotas, counters, strict=True))
            return Admission(False, usage, quota, refused, reset)
    usage = tuple(Usage(q, r + 1, t, f + 1) for q, (r, t, f) in zip(quotas, counters, strict=True))
    return Admission(True, usage, reset_seconds=reset)


def quotas_for(principal: Principal, model: str | None) -> tuple[Quota, ...]:
    """The quotas one call by `principal` to `model` is charged to: its key, the key's per-model limits,
    user, team, organization and end user, each where it sets a limit."""
    quotas: list[Quota] = []

    def add(subject: str, label: str, record: object) -> None:
        limits = effective_limits(principal, record)
        if (
            limits.rpm_limit is not None
            or limits.tpm_limit is not None
            or limits.max_parallel_requests is not None
        ):
            quotas.append(
                Quota(subject, label, limits.rpm_limit, limits.tpm_limit, limits.max_parallel_requests)
            )
        if model is not None and (model in limits.model_rpm_limit or model in limits.model_tpm_limit):
            quotas.append(
                Quota(
                    f"{subject}:model:{model}",
                    f"{label} for model {model}",
                    limits.model_rpm_limit.get(model),
                    limits.model_tpm_limit.get(model),
                )
            )

    if principal.key is not None:
        add(f"key:{principal.key.token}", "key", principal.key)
    if principal.user is not None:
        add(f"user:{principal.user.user_id}", "user", principal.user)
    if principal.team is not None:
        add(f"team:{principal.team.team_id}", "team", principal.team)
    if principal.organization is not None:
        add(f"organization:{principal.organization.organization_id}", "organization", principal.organization)
    if principal.end_user is not None:
        add(f"end_user:{principal.end_user.user_id}", "end user", principal.end_user)
    return tuple(quotas)
