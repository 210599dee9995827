"""Spend budgets: the terms a key, user, team, organization or end user sets, the budgets one call must fit,
their windows, and the pure admission decision.

A budget with a `budget_duration` counts spend in windows of that length, anchored at the record's
creation (`3s`, `1h`, `7d`, `1mo` = 30 days): the window of a moment is the one it falls in, and spend
starts again from zero when the window ends. Without a duration the window is all time.

A call is admitted while every budget on its path has room: its limit minus the window's spend minus the
reservations still open against it is above zero. Each admitted call reserves its estimated cost against
every budget, then settles to its real cost, so concurrent calls see each other's reservations: N calls
racing for the last room overspend by at most one call's estimate, never by N.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from decimal import Decimal

from domain.durations import parse_duration
from domain.errors import BadRequestError
from domain.frozen import frozen
from domain.messages import FunctionTool, Message, TextPart

ZERO = Decimal(0)


@frozen
class BudgetTerms:
    """What a record (key, user, team, organization, end user) may spend, and what it has spent.

    `budget_id` points at a shared `Budget` whose terms apply where this record sets none. `spend` is the
    recorded spend of the current window when the record was read (the ledger keeps the running total)."""

    max_budget: Decimal | None = None
    soft_budget: Decimal | None = None
    """Spend at which the owner is warned (logged and reported); it never refuses a call."""
    budget_duration: str | None = None
    budget_id: str | None = None
    model_max_budget: Mapping[str, Decimal] = field(default_factory=dict)
    """A limit per public model name, counted apart from the record's whole budget."""
    spend: Decimal = ZERO
    budget_reset_at: datetime | None = None
    """When the current window ends (None without a duration)."""

    def __post_init__(self) -> None:
        for name in ("max_budget", "soft_budget"):
            value = getattr(self, name)
            if value is not None:
                _check_amount(value, name, param=name)
        for model, value in self.model_max_budget.items():
            _check_amount(value, f"model_max_budget.{model}", param="model_max_budget")
        # Spend is what was recorded, not a limit: its sign is the ledger's business, and refusing a record
        # on the way out of the store would lock its owner out.
        _check_amount(self.spend, "spend", param="spend", signed=True)
        if self.budget_duration is not None:
            parse_duration(self.budget_duration, param="budget_duration")
        if self.budget_reset_at is not None and self.budget_reset_at.tzinfo is None:
            # A naive time is read in the host's zone by some stores and as UTC by others.
            raise ValueError("BudgetTerms.budget_reset_at must be an aware datetime")

    def or_else(self, shared: BudgetTerms | None) -> BudgetTerms:
        """These terms, each limit not set here taken from `shared` (the terms of the record's budget_id)."""
        if shared is None:
            return self
        return dataclasses.replace(
            self,
            max_budget=self.max_budget if self.max_budget is not None else shared.max_budget,
            soft_budget=self.soft_budget if self.soft_budget is not None else shared.soft_budget,
            budget_duration=self.budget_duration or shared.budget_duration,
            model_max_budget=self.model_max_budget or shared.model_max_budget,
        )

    @property
    def limited(self) -> bool:
        return self.max_budget is not None or self.soft_budget is not None or bool(self.model_max_budget)


def _check_amount(value: Decimal, name: str, *, param: str, signed: bool = False) -> None:
    """An amount of money: exact (a float would carry binary rounding into every total), finite and, unless
    `signed`, not negative."""
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"BudgetTerms.{name} must be a Decimal, got {type(value).__name__}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise BadRequestError(f"{name} must be a finite number, got {value}", param=param)
    if not signed and value < 0:
        raise BadRequestError(f"{name} must be zero or more, got {value}", param=param)


NO_BUDGET = BudgetTerms()


@frozen
class Window:
    """The span of a budget's current window, in wall-clock seconds; `end` None for all time."""

    start: float
    end: float | None

    @property
    def resets_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.end, UTC) if self.end is not None else None


ALL_TIME = Window(0.0, None)


def window_at(duration: str | None, anchor: float | None, now: float) -> Window:
    """The window of `now` for a budget of `duration` counted from `anchor` (the record's creation; the
    epoch when unknown)."""
    if not duration:
        return ALL_TIME
    length = parse_duration(duration, param="budget_duration").total_seconds()
    origin = anchor or 0.0
    count = max(0, int((now - origin) // length))
    start = origin + count * length
    return Window(start, start + length)


@frozen
class BudgetLine:
    """One budget a call is charged to. `subject` names its spend counter (`key:<hash>`, `team:<id>`,
    `key:<hash>:model:<name>`, as the ledger's totals name them); `label` says in an error which budget
    it is."""

    subject: str
    label: str
    limit: Decimal | None
    """None: a soft budget only, counted but never refusing."""
    window: Window = ALL_TIME
    soft: Decimal | None = None


@frozen
class Standing:
    """A budget's counters in its current window: spend settled, and reservations still open."""

    spent: Decimal = ZERO
    reserved: Decimal = ZERO

    def room(self, limit: Decimal) -> Decimal:
        return limit - self.spent - self.reserved


def refusing_line(lines: Sequence[BudgetLine], standings: Sequence[Standing]) -> int | None:
    """The index of the first budget without room (limit minus spend minus open reservations at or
    below zero), or None when the call fits every budget."""
    if len(lines) != len(standings):
        raise ValueError("a standing for each budget line")
    for index, line in enumerate(lines):
        limit = line.limit
        if limit is not None:
            standing = standings[index]
            if limit - standing.spent - standing.reserved <= 0:  # `room`, worked out in place (each call)
                return index
    return None


def soft_crossed(line: BudgetLine, before: Decimal, after: Decimal) -> bool:
    """Whether spending moved from below the line's soft budget to at or above it."""
    return line.soft is not None and before < line.soft <= after


class BudgetExceededError(BadRequestError):
    """A call refused because a budget on its path is spent (400, not 429: waiting does not help until
    the budget resets, and clients retry 429s in vain)."""

    default_code = "budget_exceeded"

    def __init__(self, line: BudgetLine, spent: Decimal, *, cost: Decimal | None = None) -> None:
        """`cost`: what a call of known cost would have spent, more than the budget has left."""
        resets = line.window.resets_at
        when = f" It resets at {resets:%Y-%m-%dT%H:%M:%SZ}." if resets is not None else ""
        would = f" This call would cost ${_usd(cost)}, more than is left." if cost is not None else ""
        super().__init__(
            f"Budget exceeded: {line.label} has spent ${_usd(spent)} of its ${_usd(line.limit)} budget."
            + would
            + when,
            param="max_budget",
        )
        self.budget = line.label
        self.limit = line.limit
        self.spent = spent
        self.resets_at = resets


def _usd(amount: Decimal | None) -> str:
    if amount is None:
        return "0"
    text = f"{amount:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
        whole, _, cents = text.partition(".")
        text = f"{whole}.{cents.ljust(2, '0')}" if cents else f"{whole}.00"
    else:
        text += ".00"
    return text


FRAMING_TOKENS = 4
"""Tokens a chat format wraps each message in (3 for OpenAI's), rounded up."""
PART_TOKENS = 2_000
"""A bound on what one image or document part costs in prompt tokens, whatever its size in bytes."""


def prompt_token_bound(messages: Sequence[Message], tools: Sequence[FunctionTool] = ()) -> int:
    """More prompt tokens than any byte-level BPE tokenizer makes of the request: each token covers at
    least one byte of UTF-8 text. For a budget reservation, which must not fall short of the real cost,
    and is worked out without loading a tokenizer (one costs 80 MB of memory)."""
    total = FRAMING_TOKENS
    for message in messages:
        total += FRAMING_TOKENS + len(message.text.encode())
        if message.content is not None and not isinstance(message.content, str):
            total += PART_TOKENS * sum(not isinstance(part, TextPart) for part in message.content)
        for call in message.tool_calls:
            total += FRAMING_TOKENS + len(call.name) + len(call.arguments.encode())
        if message.reasoning_content:
            total += len(message.reasoning_content.encode())
    for tool in tools:
        described = f"{tool.name} {tool.description or ''} {tool.parameters or ''}"
        total += FRAMING_TOKENS + len(described.encode())
    return total
