"""Guardrails: checks that run before, beside and after a call, what each decides, and which run.

A guardrail reads the texts of a request or a reply (an `Inspection`) and returns a `Verdict`: let it
pass, rewrite it (mask what it found), or block it. Which guardrails run on a call is the config's
`default_on` ones, the caller's key's and team's, and those the request names (`plan_names`), in the
config's order; the first block wins.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from domain.errors import BadRequestError, PermissionDeniedError
from domain.frozen import frozen

if TYPE_CHECKING:
    from domain.completions import CompletionRequest, CompletionResponse
    from domain.embeddings import EmbeddingRequest


class GuardrailMode(StrEnum):
    PRE_CALL = "pre_call"
    """Before the call: may block it or rewrite the request (mask)."""
    DURING_CALL = "during_call"
    """Beside the upstream call: a block cancels it before any reply byte reaches the caller."""
    POST_CALL = "post_call"
    """On the reply: may block it or rewrite it (a stream whole before release, or window by window)."""
    LOGGING_ONLY = "logging_only"
    """Masks what is logged and stored of the call, never what is sent or answered."""


class StreamCheck(StrEnum):
    """How a post_call guardrail reads a stream."""

    WHOLE = "whole"
    """The whole reply is checked before any of it is released."""
    WINDOW = "window"
    """Checked as it streams: the last `window` characters are held back until the text after them is
    seen, so that what straddles two chunks is caught before it leaves."""


class Decision(StrEnum):
    ALLOWED = "allowed"
    MASKED = "masked"
    BLOCKED = "blocked"
    ERRORED = "errored"
    """The guardrail could not decide (its service down or too slow) and `on_error: allow` let the call
    pass."""


@frozen
class Inspection:
    """What a guardrail is asked to judge: the texts of the request (pre_call, during_call,
    logging_only) or of the reply (post_call), in order, and the call they belong to."""

    mode: GuardrailMode
    texts: tuple[str, ...]
    request: CompletionRequest | EmbeddingRequest | None = None
    reply: CompletionResponse | None = None
    """The whole reply, on a post_call check of a whole reply (None for a stream's window)."""
    final: bool = True
    """False while a stream is still running: more text will follow these texts."""

    @property
    def is_reply(self) -> bool:
        return self.mode is GuardrailMode.POST_CALL


@frozen
class Verdict:
    """A guardrail's answer. When it masks, `texts` are the inspection's texts rewritten (same order,
    same number), and `replacements` the pieces it replaced, each with what replaced it, where it can
    say (a pattern's match and its placeholder): those let a stream be masked piece by piece and a
    request in its client's own format be masked too. `restore` maps placeholders back to what they
    hide, for a reply to be given back its originals (`output_parse_pii`)."""

    decision: Decision
    reason: str = ""
    """Why, in words that never quote the sensitive text ("credit card number", "keyword 'x'")."""
    texts: tuple[str, ...] | None = None
    replacements: tuple[tuple[str, str], ...] = ()
    restore: Mapping[str, str] = field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.decision is Decision.BLOCKED


ALLOW = Verdict(Decision.ALLOWED)


def block(reason: str) -> Verdict:
    return Verdict(Decision.BLOCKED, reason)


def masked(
    texts: Sequence[str],
    reason: str,
    replacements: Iterable[tuple[str, str]] = (),
    restore: Mapping[str, str] | None = None,
) -> Verdict:
    return Verdict(Decision.MASKED, reason, tuple(texts), tuple(replacements), dict(restore or {}))


@frozen
class GuardrailSpec:
    """One configured guardrail (an entry of the config's `guardrails:` list)."""

    name: str
    kind: str
    """The built-in or adapter it is (`litellm_content_filter`, `generic_guardrail_api`, ...)."""
    modes: tuple[GuardrailMode, ...]
    default_on: bool = False
    stream: StreamCheck = StreamCheck.WHOLE
    window: int = 256
    """Characters held back by a WINDOW stream check."""
    description: str | None = None
    fail_open: bool = False
    """`on_error: allow`: when the guardrail cannot decide, the call goes on (recorded as ERRORED);
    else (`block`, the default) it is blocked."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The rest of its `litellm_params`, for the guardrail itself (and shown by /guardrails/list)."""

    def __post_init__(self) -> None:
        if not self.modes:
            raise BadRequestError(f"guardrail {self.name} has no mode", param="mode")
        if self.window < 1:
            raise BadRequestError(f"guardrail {self.name}: window must be at least 1", param="window")

    def runs_in(self, mode: GuardrailMode) -> bool:
        return mode in self.modes


@frozen
class GuardrailRun:
    """What one guardrail did on one call, as the ledger and the access log keep it."""

    name: str
    mode: GuardrailMode
    decision: Decision
    duration: float
    """Seconds it took (for a stream's window checks: all of them together)."""
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "guardrail_name": self.name,
            "guardrail_mode": self.mode.value,
            "guardrail_status": self.decision.value,
            "duration_ms": round(self.duration * 1000, 3),
            "reason": self.reason,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> GuardrailRun:
        return GuardrailRun(
            name=str(data["guardrail_name"]),
            mode=GuardrailMode(data["guardrail_mode"]),
            decision=Decision(data["guardrail_status"]),
            duration=float(data.get("duration_ms") or 0) / 1000,
            reason=str(data.get("reason") or ""),
        )


GUARDRAILS_FIELD = "guardrails"
"""Where a key's or a team's guardrails are kept: in its metadata, as LiteLLM keeps them; a request
names its own in its body's `guardrails` (or its `metadata.guardrails`, as LiteLLM accepts)."""


def guardrails_of(metadata: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The guardrail names a record's metadata (or a request's) holds."""
    named = (metadata or {}).get(GUARDRAILS_FIELD)
    if isinstance(named, str):
        named = [named]
    return tuple(n for n in named if isinstance(n, str) and n) if isinstance(named, list | tuple) else ()


def requested(controls: Mapping[str, Any], metadata: Mapping[str, Any]) -> tuple[str, ...]:
    """The guardrails a request names: its `guardrails` field, else its `metadata.guardrails`."""
    return guardrails_of(controls) or guardrails_of(metadata)


def require_choosable(requested: Iterable[str], choosable: Collection[str] | None) -> None:
    """403 naming the first guardrail a request names that its caller may not choose (`choosable`
    None: any)."""
    if choosable is None:
        return
    for name in requested:
        if name not in choosable:
            raise PermissionDeniedError(
                f"This key may not choose the guardrail '{name}'.",
                code="guardrail_not_allowed",
                param=GUARDRAILS_FIELD,
            )


def plan_names(
    specs: Sequence[GuardrailSpec], attached: Iterable[str], asked: Iterable[str]
) -> tuple[GuardrailSpec, ...]:
    """The guardrails that run on a call, in the config's order: those on by default, those the caller
    carries (`attached`: its key's and team's) and those the request names (`asked`). 400 naming the
    first name no guardrail has."""
    known = {spec.name for spec in specs}
    wanted = set(attached)
    for name in asked:
        if name not in known:
            raise BadRequestError(f"guardrails: no guardrail is named '{name}'", param=GUARDRAILS_FIELD)
        wanted.add(name)
    return tuple(spec for spec in specs if spec.default_on or spec.name in wanted)


def restored(text: str, restore: Mapping[str, str]) -> str:
    """`text` with each placeholder put back to what it hid."""
    for placeholder, original in restore.items():
        if placeholder in text:
            text = text.replace(placeholder, original)
    return text


def replaced(text: str, replacements: Iterable[tuple[str, str]]) -> str:
    for found, replacement in replacements:
        if found and found in text:
            text = text.replace(found, replacement)
    return text


def settled(
    original: str,
    masked: str,
    replacements: Iterable[tuple[str, str]],
    restore: Mapping[str, str],
    *,
    opaque: bool = False,
) -> str:
    """A reply's text as the caller gets it: the prompt's placeholders put back (`restore`) and what the
    post_call guardrails masked masked. Put back first, then masked piece by piece, so that a mask's own
    placeholder (`[EMAIL_1]` again) is never taken for the prompt's; only a guardrail that rewrote
    without saying what it replaced (`opaque`) has its text taken as it is."""
    if not restore:
        return masked
    if opaque:
        return restored(masked, restore)
    return replaced(restored(original, restore), replacements)
