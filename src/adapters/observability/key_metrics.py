"""Per-key and per-team Prometheus series, only with `prometheus_key_metrics: true` (each key and team
adds series): spend counted from each call's record, rate-limit standing as each call is admitted, and
budgets left, read every few seconds for the keys this worker has served.

A key is labelled by its alias, else the first 12 characters of its hash: never by the key itself. A team
by its id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge

from adapters.observability.metrics import PrometheusMetrics
from application.access import Ticket
from application.budgets import BudgetGuard
from domain.access import Principal
from domain.budget_policy import budget_lines
from domain.budgets import BudgetLine
from domain.spend import SpendRecord, parse_subject
from ports.call_observer import CallObserver

HASH_PREFIX = 12
TRACKED_KEYS = 10_000
"""Keys whose budgets are read, at most: those admitted most recently."""


def key_label(alias: str | None, key_hash: str) -> str:
    return alias or key_hash[:HASH_PREFIX]


class KeyMetrics(CallObserver):
    """Counts spend by key and team from each call's record; `admitted` sets the key's rate-limit
    standing (what the `x-ratelimit-remaining-*` headers answered: the tightest of the quotas its calls
    are charged to) and remembers the caller; `sample` reads the budgets left of the keys and teams
    remembered, in one read of `budgets`' counters."""

    def __init__(self, metrics: PrometheusMetrics, *, now: Callable[[], float]) -> None:
        where = metrics.target
        # Each worker counts the spend of its calls: summed. Budgets and limits are the fleet's (or,
        # without Redis, each worker's own): the most recent reading of any worker is shown.
        self._key_spend = Counter("switchyard_key_spend_usd", "What each key's calls cost, in USD.",
                                  ("key",), registry=where)  # fmt: skip
        self._team_spend = Counter("switchyard_team_spend_usd", "What each team's calls cost, in USD.",
                                   ("team",), registry=where)  # fmt: skip
        self._key_budget = Gauge(
            "switchyard_key_budget_remaining_usd", "A key's budget less its spend in the budget's window.",
            ("key",), multiprocess_mode="livemostrecent", registry=where,
        )  # fmt: skip
        self._team_budget = Gauge(
            "switchyard_team_budget_remaining_usd", "A team's budget less its spend in the budget's window.",
            ("team",), multiprocess_mode="livemostrecent", registry=where,
        )  # fmt: skip
        self._rate_limit = Gauge(
            "switchyard_key_rate_limit_remaining",
            "Requests or tokens a key had left in the minute, as its last call was admitted.",
            ("key", "kind"), multiprocess_mode="livemostrecent", registry=where,
        )  # fmt: skip
        self._now = now
        self._callers: dict[str, Principal] = {}
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Counter | Gauge, *labels: str) -> Any:
        found = self._children.get((id(metric), *labels))
        if found is None:  # `labels()` takes a lock and builds a key each time: look each up once
            found = self._children[(id(metric), *labels)] = metric.labels(*labels)
        return found

    def call_ended(self, record: SpendRecord) -> None:
        cost, caller = record.cost, record.caller
        if not cost:
            return
        if caller.key_hash:
            self._child(self._key_spend, key_label(caller.key_alias, caller.key_hash)).inc(float(cost))
        if caller.team_id:
            self._child(self._team_spend, caller.team_id).inc(float(cost))

    def admitted(self, principal: Principal, ticket: Ticket) -> None:
        key = principal.key
        if key is None:
            return
        self._callers.pop(key.token, None)  # re-inserted last: the oldest are the first forgotten
        self._callers[key.token] = principal
        if len(self._callers) > TRACKED_KEYS:
            del self._callers[next(iter(self._callers))]
        left = ticket.limits_left()
        if left is None:
            return
        label = key_label(key.key_alias, key.token)
        if left.remaining_requests is not None:
            self._child(self._rate_limit, label, "requests").set(left.remaining_requests)
        if left.remaining_tokens is not None:
            self._child(self._rate_limit, label, "tokens").set(left.remaining_tokens)

    async def sample(self, budgets: BudgetGuard) -> None:
        now = self._now()
        lines: dict[str, tuple[BudgetLine, Any]] = {}
        for principal in list(self._callers.values()):
            for line in budget_lines(principal, "", now):  # no model: the whole budgets only
                if line.limit is None or line.subject in lines:
                    continue
                kind, id, _ = parse_subject(line.subject)
                if kind == "key" and principal.key is not None:
                    gauge = self._child(self._key_budget, key_label(principal.key.key_alias, id))
                elif kind == "team":
                    gauge = self._child(self._team_budget, id)
                else:
                    continue
                lines[line.subject] = (line, gauge)
        if not lines:
            return
        standings = await budgets.standings([line for line, _ in lines.values()])
        for (line, gauge), standing in zip(lines.values(), standings, strict=True):
            if standing is not None and line.limit is not None:
                gauge.set(float(line.limit - standing.spent))
