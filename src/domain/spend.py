"""The spend ledger's records: one per call, the running totals they add to, and the daily aggregates
reports read.

Spend subjects name whose spend a total counts, in one spelling shared by budgets, totals and reports:
`key:<sha256>`, `user:<id>`, `team:<id>`, `organization:<id>`, `end_user:<id>`, each also per public model
name as `<subject>:model:<name>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import date, datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from enum import StrEnum
from typing import Any

from domain.completions import Usage
from domain.frozen import frozen
from domain.guardrails import GuardrailRun

ZERO = Decimal(0)
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
"""The context spend is summed in: additions never round (the default context keeps 28 digits, which a
large total plus a tiny cost exceeds). Only additions run in it: a division would try MAX_PREC digits."""
NO_USAGE = Usage()

SUBJECT_KINDS = ("key", "user", "team", "organization", "end_user")


def subject(kind: str, id: str, model: str | None = None) -> str:
    """`team:t1`, or `team:t1:model:gpt-x` for one model's share."""
    if kind not in SUBJECT_KINDS:
        raise ValueError(f"unknown spend subject kind {kind!r}")
    return f"{kind}:{id}" if model is None else f"{kind}:{id}:model:{model}"


def parse_subject(text: str) -> tuple[str, str, str | None]:
    """(kind, id, model or None) of a subject; ValueError when it is not one."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in SUBJECT_KINDS or not rest:
        raise ValueError(f"not a spend subject: {text!r}")
    id, sep, model = rest.partition(":model:")
    return kind, id, (model if sep else None)


@frozen
class Caller:
    """Who a call is charged to, as the ledger records it. All None for a library call or a gateway
    without keys."""

    key_hash: str | None = None
    key_alias: str | None = None
    key_name: str | None = None
    """The key's recognisable abbreviation (`sk-...abcd`)."""
    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    end_user: str | None = None
    guardrails: tuple[str, ...] = ()
    """The guardrails the caller's key and team attach to each of its calls (not part of the ledger's
    record of whom a call is charged to)."""

    def subjects(self) -> tuple[str, ...]:
        """The subjects this caller's spend counts toward (without the per-model ones)."""
        found = []
        for kind, id in (
            ("key", self.key_hash),
            ("user", self.user_id),
            ("team", self.team_id),
            ("organization", self.organization_id),
            ("end_user", self.end_user),
        ):
            if id:
                found.append(subject(kind, id))
        return tuple(found)


ANONYMOUS = Caller()


class CallStatus(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


@frozen
class SpendRecord:
    """One call, whether it succeeded or failed, as the ledger keeps it. `request_id` is the call's
    `x-switchyard-call-id` and makes writes idempotent. Text of prompts and replies (`messages`,
    `response`) is carried only when configured: in the ledger with `store_prompts_in_spend_logs`, to the
    call observers (access log, callbacks) with `log_prompts`."""

    request_id: str
    call_type: str
    """chat, stream, embeddings (the entry point's own name: messages, ... where it differs)."""
    started_at: datetime
    ended_at: datetime
    model_group: str
    caller: Caller = ANONYMOUS
    deployment_id: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    usage: Usage = NO_USAGE
    cost: Decimal | None = None
    """USD; None when the model has no known price."""
    input_cost: Decimal | None = None
    output_cost: Decimal | None = None
    estimated: bool = False
    """The tokens were counted by the gateway, the provider having reported no usage."""
    status: CallStatus = CallStatus.SUCCESS
    error_type: str | None = None
    status_code: int | None = None
    retries: int = 0
    fallbacks: int = 0
    time_to_first_token: float | None = None
    """Seconds from the call's start to its first streamed token."""
    upstream_seconds: float | None = None
    """Seconds spent waiting on upstreams (failed attempts and retry waits included; a stream's until its
    end): the call's latency less this is the gateway's own overhead."""
    cache_hit: bool = False
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    messages: Any = None
    response: Any = None
    guardrails: tuple[GuardrailRun, ...] = ()
    """The guardrails that ran on the call: each one's mode, decision and time taken."""

    def subjects(self) -> tuple[str, ...]:
        """Every total this record adds to: each of its caller's subjects, whole and for its model."""
        whole = self.caller.subjects()
        return (*whole, *(f"{s}:model:{self.model_group}" for s in whole))

    @property
    def day(self) -> date:
        return self.started_at.date()


@frozen
class DailySpend:
    """The calls of one UTC day for one (key, team, organization, user, end user, model group, provider),
    summed. The ledger keeps these as it writes records; reports read them instead of the log."""

    day: date
    key_hash: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    user_id: str | None = None
    end_user: str | None = None
    model_group: str = ""
    provider: str | None = None
    spend: Decimal = ZERO
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    requests: int = 0
    successes: int = 0
    failures: int = 0


@frozen
class SpendLogQuery:
    """Filters on the raw log (all optional), newest first, paged."""

    key_hash: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    end_user: str | None = None
    request_id: str | None = None
    model_group: str | None = None
    status: CallStatus | None = None
    start: datetime | None = None
    """Records that started at or after this."""
    end: datetime | None = None
    """Records that started before this."""
    offset: int = 0
    limit: int = 100


@frozen
class DailyQuery:
    """Days from `start` to `end` inclusive, filtered by equality on the named dimensions (None: any)."""

    start: date
    end: date
    key_hash: str | None = None
    team_id: str | None = None
    organization_id: str | None = None
    user_id: str | None = None
    end_user: str | None = None
    model_group: str | None = None
    provider: str | None = None
