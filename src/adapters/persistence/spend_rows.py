"""Spend records and aggregates to the ledger's rows and back, by hand (tables.py holds the columns)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from adapters.persistence import tables
from adapters.persistence.spend_sums import DailyKey, Total, in_utc
from domain.completions import Usage
from domain.guardrails import GuardrailRun
from domain.spend import Caller, CallStatus, DailySpend, SpendRecord

TOKEN_KINDS = (
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
)
GUARDRAIL_INFORMATION = "guardrail_information"
DAILY_SUMS = ("spend", *TOKEN_KINDS, "requests", "successes", "failures")
TOTAL_SUMS = ("spend", "tokens", "requests")
DAILY_DIMENSIONS = tuple(name for name in tables.SPEND_DAILY_KEY if name != "shard")
"""The columns of a `DailyKey`, in its order."""
_DAILY_NULLABLE = ("key_hash", "team_id", "organization_id", "user_id", "end_user", "provider")
T = TypeVar("T")
PAGE_SIZES = (16, 8, 4, 2, 1)
"""The only row counts a batch statement is issued with. Each count is a statement text of its own, and
drivers keep every text they have run prepared on each connection (SQLite's statement cache, asyncpg's):
with a statement per batch size, a busy gateway fills them with thousands of distinct, large statements
(hundreds of MB). Five shapes per statement, of at most 16 rows, keep them few and small."""


def pages(rows: Sequence[T]) -> Iterator[Sequence[T]]:
    """`rows` in pages of the sizes in PAGE_SIZES, largest first (45 rows: 16, 16, 8, 4, 1)."""
    start = 0
    for size in PAGE_SIZES:
        while len(rows) - start >= size:
            yield rows[start : start + size]
            start += size
            if size != PAGE_SIZES[0]:
                break


def log_row(record: SpendRecord) -> dict[str, Any]:
    caller, usage = record.caller, record.usage
    return {
        "request_id": record.request_id,
        "call_type": record.call_type,
        "started_at": in_utc(record.started_at),
        "ended_at": in_utc(record.ended_at),
        "model_group": record.model_group,
        "key_hash": caller.key_hash,
        "key_alias": caller.key_alias,
        "key_name": caller.key_name,
        "user_id": caller.user_id,
        "team_id": caller.team_id,
        "organization_id": caller.organization_id,
        "end_user": caller.end_user,
        "deployment_id": record.deployment_id,
        "provider": record.provider,
        "upstream_model": record.upstream_model,
        **{kind: getattr(usage, kind) for kind in TOKEN_KINDS},
        "cost": record.cost,
        "input_cost": record.input_cost,
        "output_cost": record.output_cost,
        "estimated": record.estimated,
        "status": record.status.value,
        "error_type": record.error_type,
        "status_code": record.status_code,
        "retries": record.retries,
        "fallbacks": record.fallbacks,
        "time_to_first_token": record.time_to_first_token,
        "upstream_seconds": record.upstream_seconds,
        "cache_hit": record.cache_hit,
        "tags": list(record.tags),
        "metadata": _metadata(record),
        "messages": record.messages,
        "response": record.response,
    }


def record_of(row: Mapping[str, Any]) -> SpendRecord:
    metadata = dict(row["metadata"] or {})
    runs = metadata.pop(GUARDRAIL_INFORMATION, None) or ()
    return SpendRecord(
        request_id=row["request_id"],
        call_type=row["call_type"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        model_group=row["model_group"],
        caller=Caller(
            key_hash=row["key_hash"],
            key_alias=row["key_alias"],
            key_name=row["key_name"],
            user_id=row["user_id"],
            team_id=row["team_id"],
            organization_id=row["organization_id"],
            end_user=row["end_user"],
        ),
        deployment_id=row["deployment_id"],
        provider=row["provider"],
        upstream_model=row["upstream_model"],
        usage=Usage(**{kind: row[kind] for kind in TOKEN_KINDS}),
        cost=row["cost"],
        input_cost=row["input_cost"],
        output_cost=row["output_cost"],
        estimated=row["estimated"],
        status=CallStatus(row["status"]),
        error_type=row["error_type"],
        status_code=row["status_code"],
        retries=row["retries"],
        fallbacks=row["fallbacks"],
        time_to_first_token=row["time_to_first_token"],
        upstream_seconds=row["upstream_seconds"],
        cache_hit=row["cache_hit"],
        tags=tuple(row["tags"]),
        metadata=metadata,
        messages=row["messages"],
        response=row["response"],
        guardrails=tuple(GuardrailRun.from_json(run) for run in runs if isinstance(run, dict)),
    )


def _metadata(record: SpendRecord) -> dict[str, Any]:
    """The record's metadata as the log row keeps it: with the guardrails that ran, where LiteLLM's
    spend logs keep them (`guardrail_information`)."""
    metadata = dict(record.metadata)
    if record.guardrails:
        metadata[GUARDRAIL_INFORMATION] = [run.to_json() for run in record.guardrails]
    return metadata


def total_row(subject: str, shard: str, total: Total) -> dict[str, Any]:
    return {
        "subject": subject,
        "shard": shard,
        "spend": total.spend,
        "tokens": total.tokens,
        "requests": total.requests,
    }


def daily_row(key: DailyKey, shard: str, spend: DailySpend) -> dict[str, Any]:
    """'' stands for None in the key columns (see tables.py)."""
    row = {name: "" if part is None else part for name, part in zip(DAILY_DIMENSIONS, key, strict=True)}
    return row | {"shard": shard} | {name: getattr(spend, name) for name in DAILY_SUMS}


def daily_of_row(row: Mapping[str, Any]) -> DailySpend:
    return DailySpend(
        day=row["day"],
        model_group=row["model_group"],
        **{name: row[name] or None for name in _DAILY_NULLABLE},
        **{name: row[name] for name in DAILY_SUMS},
    )
