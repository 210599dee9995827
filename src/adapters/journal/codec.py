"""SpendRecord to one line of JSON and back, exactly (Decimals as strings, datetimes in UTC)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from domain.completions import Usage
from domain.guardrails import GuardrailRun
from domain.spend import ANONYMOUS, NO_USAGE, Caller, CallStatus, SpendRecord

VERSION = 1
"""Written as `"v"`. A later version only adds fields, with defaults: a reader takes every version, ignores
the fields it does not know and defaults those a line lacks, so a fleet in a rolling upgrade loses at most
a new field of a record, never the record."""

_CALLER_FIELDS = tuple(f.name for f in fields(Caller) if f.name != "guardrails")
_USAGE_FIELDS = tuple(f.name for f in fields(Usage))


class UnreadableLine(ValueError):
    """A journal line that is not a spend record (torn, corrupt, or not JSON); readers skip it."""


def encode(record: SpendRecord) -> bytes:
    """The record as one line of JSON, without the newline (orjson never writes one inside)."""
    caller = record.caller
    usage = record.usage
    row: dict[str, Any] = {
        "v": VERSION,
        "request_id": record.request_id,
        "call_type": record.call_type,
        "started_at": _time(record.started_at),
        "ended_at": _time(record.ended_at),
        "model_group": record.model_group,
        "deployment_id": record.deployment_id,
        "provider": record.provider,
        "upstream_model": record.upstream_model,
        "cost": _money(record.cost),
        "input_cost": _money(record.input_cost),
        "output_cost": _money(record.output_cost),
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
        "metadata": record.metadata,
        "messages": record.messages,
        "response": record.response,
    }
    if caller != ANONYMOUS:
        row["caller"] = {name: getattr(caller, name) for name in _CALLER_FIELDS}
    if record.guardrails:
        row["guardrails"] = [run.to_json() for run in record.guardrails]
    if usage != NO_USAGE:
        row["usage"] = {name: getattr(usage, name) for name in _USAGE_FIELDS}
    return orjson.dumps(row, default=_json)


def decode(line: bytes | str) -> SpendRecord:
    """The record a line of `encode` spells; `UnreadableLine` when it spells none."""
    try:
        row = orjson.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("v"), int) or row["v"] < 1:
            raise UnreadableLine("not a versioned spend record")
        caller, usage = row.get("caller"), row.get("usage")
        return SpendRecord(
            request_id=_text(row["request_id"]),
            call_type=_text(row["call_type"]),
            started_at=datetime.fromisoformat(row["started_at"]),
            ended_at=datetime.fromisoformat(row["ended_at"]),
            model_group=_text(row["model_group"]),
            caller=Caller(**{k: caller.get(k) for k in _CALLER_FIELDS}) if caller else ANONYMOUS,
            deployment_id=row.get("deployment_id"),
            provider=row.get("provider"),
            upstream_model=row.get("upstream_model"),
            usage=Usage(**{k: int(usage.get(k, 0)) for k in _USAGE_FIELDS}) if usage else NO_USAGE,
            cost=_decimal(row.get("cost")),
            input_cost=_decimal(row.get("input_cost")),
            output_cost=_decimal(row.get("output_cost")),
            estimated=bool(row.get("estimated", False)),
            status=CallStatus(row.get("status", CallStatus.SUCCESS.value)),
            error_type=row.get("error_type"),
            status_code=row.get("status_code"),
            retries=int(row.get("retries", 0)),
            fallbacks=int(row.get("fallbacks", 0)),
            time_to_first_token=row.get("time_to_first_token"),
            upstream_seconds=row.get("upstream_seconds"),
            cache_hit=bool(row.get("cache_hit", False)),
            tags=tuple(row.get("tags") or ()),
            metadata=row.get("metadata") or {},
            messages=row.get("messages"),
            response=row.get("response"),
            guardrails=tuple(GuardrailRun.from_json(run) for run in row.get("guardrails") or ()),
        )
    except UnreadableLine:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
        raise UnreadableLine(f"not a spend record: {exc}") from exc


def _time(moment: datetime) -> str | datetime:
    # Aware times are kept as the instant in UTC (equal to the original); a naive one stays naive. A time
    # already in UTC (every record metering makes) is left to orjson, which writes what isoformat() does
    # without a string built here (two a record: 1.5 of its 6.6 us).
    if moment.tzinfo is UTC and type(moment) is datetime:
        return moment
    return (moment.astimezone(UTC) if moment.tzinfo is not None else moment).isoformat()


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _decimal(text: Any) -> Decimal | None:
    return None if text is None else Decimal(_text(text))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise UnreadableLine(f"expected a string, found {value!r}")
    return value


def _json(value: Any) -> Any:
    """What orjson does not write itself, inside metadata, messages and response: any Mapping as an
    object; anything else (Decimals included: a JSON number would lose their exactness) as its text,
    since a library caller's metadata may hold anything and the spend must be kept all the same."""
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)
