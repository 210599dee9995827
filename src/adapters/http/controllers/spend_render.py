"""Spend reports in LiteLLM's response shapes: times in ISO 8601, money as JSON numbers (the shortest
float that reads back as the exact decimal, as the management routes show money)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from orjson import Fragment

from adapters.http.exchange import money_json
from application.spend_reports import Activity, KeyInfo, LogPage, Report
from application.spend_rollups import GroupBy, ReportGroup, ReportPart, Totals
from domain.spend import ZERO, CallStatus, SpendRecord

Json = dict[str, Any]

UNASSIGNED_TEAM = "Unassigned Team"
"""LiteLLM's name for the calls of keys in no team."""


def money(amount: Decimal) -> Fragment:
    """Money as an exact JSON number."""
    return money_json(amount)


def number(amount: Decimal | None) -> Fragment | None:
    return None if amount is None else money_json(amount)


def when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


# Logs ----------------------------------------------------------------------------------------------


def log(record: SpendRecord) -> Json:
    """A record as LiteLLM's LiteLLM_SpendLogs row; what LiteLLM keeps in `metadata`, there too."""
    caller, usage = record.caller, record.usage
    first_token = (
        record.started_at + timedelta(seconds=record.time_to_first_token)
        if record.time_to_first_token is not None
        else None
    )
    return {
        "request_id": record.request_id,
        "call_type": record.call_type,
        "api_key": caller.key_hash or "",
        "spend": money(record.cost or ZERO),
        "total_tokens": usage.total_tokens,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "startTime": when(record.started_at),
        "endTime": when(record.ended_at),
        "completionStartTime": when(first_token),
        "model": record.upstream_model or record.model_group,
        "model_id": record.deployment_id or "",
        "model_group": record.model_group,
        "custom_llm_provider": record.provider or "",
        "api_base": "",
        "user": caller.user_id or "",
        "team_id": caller.team_id,
        "organization_id": caller.organization_id,
        "end_user": caller.end_user or "",
        "status": record.status.value,
        "cache_hit": str(record.cache_hit),
        "cache_key": None,
        "request_tags": list(record.tags),
        "requester_ip_address": None,
        "messages": record.messages if record.messages is not None else {},
        "response": record.response if record.response is not None else {},
        "metadata": _log_metadata(record),
    }


def _log_metadata(record: SpendRecord) -> Json:
    caller, usage = record.caller, record.usage
    found: Json = {
        **record.metadata,
        "user_api_key": caller.key_hash,
        "user_api_key_alias": caller.key_alias,
        "user_api_key_name": caller.key_name,
        "user_api_key_user_id": caller.user_id,
        "user_api_key_team_id": caller.team_id,
        "user_api_key_org_id": caller.organization_id,
        "status": record.status.value,
        "usage_object": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "cache_read_input_tokens": usage.cached_tokens,
            "cache_creation_input_tokens": usage.cache_creation_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        },
        "cost_breakdown": {
            "input_cost": number(record.input_cost),
            "output_cost": number(record.output_cost),
            "total_cost": number(record.cost),
        },
        "estimated_usage": record.estimated,
        "attempted_retries": record.retries,
        "attempted_fallbacks": record.fallbacks,
    }
    if record.guardrails:
        found["guardrail_information"] = [run.to_json() for run in record.guardrails]
    if record.status is CallStatus.FAILURE:
        found["error_information"] = {"error_class": record.error_type, "error_code": record.status_code}
    return found


def log_page(page: LogPage) -> Json:
    return {
        "data": [log(r) for r in page.records],
        "total": page.total,
        "page": page.page,
        "page_size": page.size,
        "total_pages": page.pages,
    }


# The global report -----------------------------------------------------------------------------------


def report(found: Report) -> list[Json]:
    if found.group_by in (GroupBy.TEAM, GroupBy.CUSTOMER):
        return _per_day_groups(found)
    if found.group_by is GroupBy.DAY:
        return [
            {"group_by_day": _day(g), **_day_totals(g.totals), "metadata": _items(g)} for g in found.groups
        ]
    return [_ranked(found.group_by.value, g) for g in found.groups]


def _per_day_groups(found: Report) -> list[Json]:
    """LiteLLM's team and customer reports: each day, its teams (or customers), each itemised by
    (model, key)."""
    days: dict[str, list[Json]] = {}
    for group in found.groups:
        if found.group_by is GroupBy.TEAM:
            name = found.team_aliases.get(group.name or "", group.name) or UNASSIGNED_TEAM
            entry: Json = {"team_id": group.name, "team_name": name}
        else:
            entry = {"customer": group.name}
        entry |= {**_day_totals(group.totals), "metadata": _items(group)}
        days.setdefault(_day(group), []).append(entry)
    field = "teams" if found.group_by is GroupBy.TEAM else "customers"
    return [{"group_by_day": day, field: entries} for day, entries in days.items()]


def _day(group: ReportGroup) -> str:
    assert group.day is not None  # team, customer and day groups are per day
    return datetime.combine(group.day, time(), UTC).isoformat()


def _day_totals(totals: Totals) -> Json:
    return {
        "total_spend": money(totals.spend),
        "total_tokens": totals.total_tokens,
        "api_requests": totals.requests,
    }


def _items(group: ReportGroup) -> list[Json]:
    return [
        {
            "model": p.model,
            "api_key": p.key_hash or "",
            "spend": money(p.totals.spend),
            "total_tokens": p.totals.total_tokens,
        }
        for p in group.parts
    ]


def _ranked(dimension: str, group: ReportGroup) -> Json:
    """LiteLLM's api_key report shape, for keys, models and providers alike."""
    return {
        dimension: group.name or "",
        **_costs(group.totals),
        "total_tokens": group.totals.total_tokens,
        "api_requests": group.totals.requests,
        "model_details": [_detail(p) for p in group.parts],
    }


def _costs(totals: Totals) -> Json:
    return {
        "total_cost": money(totals.spend),
        "total_input_tokens": totals.prompt_tokens,
        "total_output_tokens": totals.completion_tokens,
    }


def _detail(part: ReportPart) -> Json:
    return {"model": part.model, "api_key": part.key_hash or "", **_costs(part.totals)}


# Daily activity ------------------------------------------------------------------------------------


def metrics(totals: Totals) -> Json:
    """LiteLLM's SpendMetrics."""
    return {
        "spend": money(totals.spend),
        "prompt_tokens": totals.prompt_tokens,
        "completion_tokens": totals.completion_tokens,
        "cache_read_input_tokens": totals.cached_tokens,
        "cache_creation_input_tokens": totals.cache_creation_tokens,
        "total_tokens": totals.total_tokens,
        "successful_requests": totals.successes,
        "failed_requests": totals.failures,
        "api_requests": totals.requests,
    }


def activity(found: Activity) -> Json:
    """LiteLLM's SpendAnalyticsPaginatedResponse."""
    totals = found.totals
    return {
        "results": [
            {
                "date": day.day.isoformat(),
                "metrics": metrics(day.totals),
                "breakdown": {
                    "models": _plain(day.models),
                    "model_groups": _plain(day.models),
                    "providers": _plain(day.providers),
                    "api_keys": {k: _key(k, t, found.keys) for k, t in day.api_keys.items()},
                    "entities": {
                        team: {
                            "metrics": metrics(t),
                            "metadata": {"team_alias": found.team_aliases.get(team)},
                        }
                        for team, t in day.entities.items()
                    },
                    "mcp_servers": {},
                    "endpoints": {},
                },
            }
            for day in found.days
        ],
        "metadata": {
            "total_spend": money(totals.spend),
            "total_prompt_tokens": totals.prompt_tokens,
            "total_completion_tokens": totals.completion_tokens,
            "total_tokens": totals.total_tokens,
            "total_api_requests": totals.requests,
            "total_successful_requests": totals.successes,
            "total_failed_requests": totals.failures,
            "total_cache_read_input_tokens": totals.cached_tokens,
            "total_cache_creation_input_tokens": totals.cache_creation_tokens,
            "page": found.page,
            "total_pages": found.pages,
            "has_more": found.has_more,
        },
    }


def _plain(found: Mapping[str, Totals]) -> Json:
    return {name: {"metrics": metrics(t), "metadata": {}} for name, t in found.items()}


def _key(token: str, totals: Totals, keys: Mapping[str, KeyInfo]) -> Json:
    info = keys.get(token)
    return {
        "metrics": metrics(totals),
        "metadata": {
            "key_alias": info.key_alias if info else None,
            "team_id": info.team_id if info else None,
            "user_id": info.user_id if info else None,
            "key_exists": info is not None,
        },
    }
