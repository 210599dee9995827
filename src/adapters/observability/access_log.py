"""One access record per call, as a structlog line, written once the call has ended."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import structlog

from domain.guardrails import GuardrailRun
from domain.spend import SpendRecord
from ports.call_observer import CallObserver

_log = structlog.get_logger("switchyard.access")
_HASH_PREFIX = 12
"""Characters of a key's SHA-256 that the line shows: enough to tell keys apart, never the key."""


class AccessLog(CallObserver):
    """Writes each call's record at level info (logger `switchyard.access`), with the request id of the
    call's context, after the call's own work: the line is rendered once the call's task next yields
    (its answer on its way), not before. Prompt and reply text appear (`messages`, `response`) only when
    the record carries them, which it does only with `log_prompts` on; keys never do (only the alias, the
    `sk-...abcd` abbreviation and a prefix of the hash), and the logs' redaction masks any in the text."""

    def call_ended(self, record: SpendRecord) -> None:
        try:
            asyncio.get_running_loop().call_soon(_write, record)
        except RuntimeError:  # no loop running (a synchronous caller): write it now
            _write(record)

    @staticmethod
    def enabled() -> bool:
        """Whether the logs take info lines at all (no access log is wired otherwise: it costs nothing)."""
        return logging.getLogger("switchyard.access").isEnabledFor(logging.INFO)


def _write(record: SpendRecord) -> None:
    # The configured logger's own chain (context, level, time, redaction, rendering) and output, entered
    # at `_process_event` (which structlog leaves to wrapper classes): not through `info(**fields)`, whose
    # three copies of the line's thirty fields as keyword arguments were a quarter of its cost (4 of
    # 21 us). The line is the same; a logger that is not structlog's own, or that takes no info lines,
    # goes the usual way.
    logger: Any = _log.bind()
    process = getattr(logger, "_process_event", None)
    enabled = getattr(logger, "is_enabled_for", None)
    if process is None or enabled is None or not enabled(logging.INFO):
        logger.info("call", **access_fields(record))
        return
    try:
        args, kwargs = process("info", "call", access_fields(record))
    except structlog.DropEvent:
        return
    logger._logger.info(*args, **kwargs)


def _guardrail_run(run: GuardrailRun) -> dict[str, Any]:
    """One guardrail's run as the access line shows it: its name, mode, decision and time. Its reason is
    left to the ledger: a guardrail service's own words could quote anything, and this field is written
    unredacted (`switchyard.redaction.PLAIN_FIELDS`: config names, fixed words and numbers only)."""
    return {
        "guardrail": run.name,
        "mode": run.mode.value,
        "decision": run.decision.value,
        "ms": round(run.duration * 1000, 3),
    }


def access_fields(record: SpendRecord) -> dict[str, Any]:
    caller, usage = record.caller, record.usage
    latency = (record.ended_at - record.started_at).total_seconds()
    upstream = record.upstream_seconds
    fields: dict[str, Any] = {
        "call_id": record.request_id,
        "call_type": record.call_type,
        "status": record.status.value,
        "status_code": record.status_code,
        "model_group": record.model_group,
        "deployment": record.deployment_id,
        "provider": record.provider,
        "upstream_model": record.upstream_model,
        "key_alias": caller.key_alias,
        "key_name": caller.key_name,
        "key_hash": caller.key_hash[:_HASH_PREFIX] if caller.key_hash else None,
        "user": caller.user_id,
        "team": caller.team_id,
        "organization": caller.organization_id,
        "end_user": caller.end_user,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "tokens_estimated": record.estimated,
        "cost": str(record.cost) if record.cost is not None else None,
        "cache_hit": record.cache_hit,
        "retries": record.retries,
        "fallbacks": record.fallbacks,
        "latency_ms": round(latency * 1000, 3),
        "time_to_first_token_ms": (
            round(record.time_to_first_token * 1000, 3) if record.time_to_first_token is not None else None
        ),
        "upstream_ms": round(upstream * 1000, 3) if upstream is not None else None,
        "overhead_ms": round(max(latency - upstream, 0.0) * 1000, 3) if upstream is not None else None,
    }
    if record.error_type is not None:
        fields["error_type"] = record.error_type
    if record.guardrails:
        fields["guardrails"] = [_guardrail_run(run) for run in record.guardrails]
    if record.messages is not None:
        fields["messages"] = record.messages
    if record.response is not None:
        fields["response"] = record.response
    return fields
