"""Guardrails on the call path: which run on a call, and running them before, beside and after it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from application.guarded_stream import GuardedStream
from domain.completions import CompletionRequest, CompletionResponse
from domain.embeddings import EmbeddingRequest
from domain.errors import GuardrailViolationError
from domain.frozen import frozen
from domain.guarded_texts import reply_texts, request_texts, with_reply_texts, with_request_texts
from domain.guardrails import (
    Decision,
    GuardrailMode,
    GuardrailRun,
    GuardrailSpec,
    Inspection,
    Verdict,
    block,
    plan_names,
    requested,
    settled,
)
from domain.spend import Caller
from ports.clock import Clock
from ports.guardrail import Guardrail, GuardrailUnavailable
from ports.llm_provider import ChunkStream

T = TypeVar("T")
Guarded = CompletionRequest | EmbeddingRequest


@frozen
class Configured:
    """A configured guardrail: its settings and the check that implements it."""

    spec: GuardrailSpec
    guardrail: Guardrail


class Lineup:
    """The guardrails that run on a call, in the config's order, and those of each mode."""

    __slots__ = ("by_mode", "configured")

    def __init__(self, configured: tuple[Configured, ...]) -> None:
        self.configured = configured
        self.by_mode = {mode: tuple(c for c in configured if c.spec.runs_in(mode)) for mode in GuardrailMode}


class Guardrails:
    """The configured guardrails, in the config's order; `plan` picks those that run on one call."""

    def __init__(self, configured: Sequence[Configured], clock: Clock) -> None:
        self._configured = tuple(configured)
        self._specs = tuple(c.spec for c in configured)
        self._by_name = {c.spec.name: c for c in configured}
        self._any_default = any(spec.default_on for spec in self._specs)
        self._clock = clock
        self._lineups: dict[tuple[tuple[str, ...], tuple[str, ...]], Lineup | None] = {}
        """Lineups by the names a caller carries and a request asks for: a handful of combinations,
        each worked out once."""

    @property
    def specs(self) -> tuple[GuardrailSpec, ...]:
        return self._specs

    def get(self, name: str) -> Configured | None:
        return self._by_name.get(name)

    def plan(self, request: Guarded, caller: Caller | None) -> CallGuard | None:
        """What guards this call (None: nothing does): the guardrails on by default, the caller's
        (its key's and team's) and those the request names, in the config's order. 400 naming a
        requested guardrail that is not configured."""
        asked = requested(request.controls, request.metadata)
        attached = caller.guardrails if caller is not None else ()
        if not asked and not attached and not self._any_default:
            return None
        try:
            lineup = self._lineups[(attached, asked)]
        except KeyError:
            specs = plan_names(self._specs, attached, asked)
            lineup = Lineup(tuple(self._by_name[spec.name] for spec in specs)) if specs else None
            if len(self._lineups) < 1024:
                self._lineups[(attached, asked)] = lineup
        return CallGuard(lineup, self._clock) if lineup is not None else None

    async def apply(self, name: str, text: str) -> tuple[str, GuardrailRun]:
        """One guardrail run on `text` alone, as a prompt is checked (`/guardrails/apply_guardrail`):
        the text as it would be sent on, or GuardrailViolationError."""
        configured = self._by_name[name]
        guard = CallGuard(Lineup((configured,)), self._clock)
        mode = next(
            (m for m in (GuardrailMode.PRE_CALL, GuardrailMode.DURING_CALL) if configured.spec.runs_in(m)),
            configured.spec.modes[0],
        )
        verdict = await guard.judge(configured, Inspection(mode, (text,)))
        if verdict.blocked:
            raise GuardrailViolationError(name, verdict.reason)
        texts = verdict.texts if verdict.decision is Decision.MASKED and verdict.texts else (text,)
        return texts[0], guard.runs[0]

    async def close(self) -> None:
        for configured in self._configured:
            with contextlib.suppress(Exception):
                await configured.guardrail.close()


class CallGuard:
    """The guardrails of one call, and what each did (`runs`, in the order they finished)."""

    __slots__ = ("_by_mode", "_clock", "_post", "restore", "runs")

    def __init__(self, lineup: Lineup, clock: Clock) -> None:
        self._by_mode = lineup.by_mode
        self._clock = clock
        self._post = lineup.by_mode[GuardrailMode.POST_CALL]
        self.runs: list[GuardrailRun] = []
        self.restore: dict[str, str] = {}
        """Placeholders a pre_call mask put in the prompt, and what they hide (`output_parse_pii`)."""

    def of(self, mode: GuardrailMode) -> tuple[Configured, ...]:
        return self._by_mode[mode]

    @property
    def watches_reply(self) -> bool:
        """Whether the reply is checked or rewritten before the caller gets it (a response cache can then
        neither answer the call nor keep its answer)."""
        return bool(self._post or self.restore)

    async def judge(self, configured: Configured, inspection: Inspection) -> Verdict:
        """One guardrail's verdict, timed and recorded; one that cannot decide allows or blocks as its
        `on_error` says."""
        spec = configured.spec
        started = self._clock.monotonic()
        try:
            verdict = await configured.guardrail.check(inspection)
        except GuardrailUnavailable as exc:
            verdict = _unavailable(spec, str(exc))
        except Exception as exc:  # a guardrail's own bug must not let the call through
            verdict = _unavailable(spec, type(exc).__name__)
        if verdict.decision is Decision.MASKED and (
            verdict.texts is None or len(verdict.texts) != len(inspection.texts)
        ):
            verdict = _unavailable(spec, "it masked an unexpected number of texts")
        elapsed = self._clock.monotonic() - started
        self._note(GuardrailRun(spec.name, inspection.mode, verdict.decision, elapsed, verdict.reason))
        return verdict

    def _note(self, run: GuardrailRun) -> None:
        """Keeps one run per guardrail and mode: a stream's window checks add up to one, its gravest
        decision with its reason."""
        for position, seen in enumerate(self.runs):
            if seen.name == run.name and seen.mode is run.mode:
                graver = _GRAVITY[run.decision] > _GRAVITY[seen.decision]
                self.runs[position] = dataclasses.replace(
                    seen,
                    duration=seen.duration + run.duration,
                    decision=run.decision if graver else seen.decision,
                    reason=run.reason if graver else seen.reason,
                )
                return
        self.runs.append(run)

    async def before(self, request: Guarded) -> Guarded:
        """pre_call: each guardrail in order on the prompt's texts, a mask handing on the rewritten texts;
        the request as it is to be sent, or GuardrailViolationError at the first block."""
        pre = self.of(GuardrailMode.PRE_CALL)
        if not pre:
            return request
        texts = request_texts(request)
        replacements: list[tuple[str, str]] = []
        for configured in pre:
            verdict = await self.judge(configured, Inspection(GuardrailMode.PRE_CALL, texts, request))
            if verdict.blocked:
                raise GuardrailViolationError(configured.spec.name, verdict.reason)
            if verdict.decision is Decision.MASKED and verdict.texts is not None:
                texts = verdict.texts
                replacements.extend(verdict.replacements)
                self.restore.update(verdict.restore)
        return with_request_texts(request, texts, replacements)

    async def beside(
        self, request: Guarded, call: Awaitable[T], discard: Callable[[T], Awaitable[None]]
    ) -> T:
        """during_call: the call made while its guardrails check the prompt. A block cancels the call
        (or, when the call was quicker, `discard`s its answer) and raises; nothing of the answer is
        handed on before every check has passed."""
        during = self.of(GuardrailMode.DURING_CALL)
        if not during:
            return await call
        checks = asyncio.ensure_future(self._during(during, request))
        answer = asyncio.ensure_future(call)
        try:
            await asyncio.wait((checks, answer), return_when=asyncio.FIRST_COMPLETED)
            if checks.done() and (violation := checks.result()) is not None:
                answer.cancel()
                with contextlib.suppress(BaseException):
                    await answer
                raise violation
            result = await answer
        except BaseException:
            for task in (checks, answer):
                task.cancel()
            raise
        violation = await checks
        if violation is not None:
            await discard(result)
            raise violation
        return result

    async def _during(
        self, during: tuple[Configured, ...], request: Guarded
    ) -> GuardrailViolationError | None:
        inspection = Inspection(GuardrailMode.DURING_CALL, request_texts(request), request)
        verdicts = await asyncio.gather(*(self.judge(c, inspection) for c in during))
        for configured, verdict in zip(during, verdicts, strict=True):
            if verdict.blocked:
                return GuardrailViolationError(configured.spec.name, verdict.reason)
        return None

    async def after(self, reply: CompletionResponse, request: CompletionRequest) -> CompletionResponse:
        """post_call on a whole reply: each guardrail in order, a mask handing on the rewritten texts;
        then the prompt's placeholders put back (`output_parse_pii`). GuardrailViolationError at the
        first block."""
        before = reply_texts(reply)
        texts, pairs, opaque = await self.checked_reply(before, request, reply=reply)
        restore = self.restore
        texts = tuple(
            settled(old, new, pairs, restore, opaque=opaque) for old, new in zip(before, texts, strict=True)
        )
        return with_reply_texts(reply, texts)

    async def checked_reply(
        self,
        texts: tuple[str, ...],
        request: CompletionRequest,
        *,
        reply: CompletionResponse | None = None,
        final: bool = True,
    ) -> tuple[tuple[str, ...], list[tuple[str, str]], bool]:
        """The post_call guardrails in order on a reply's texts (or, not `final`, a stream's so far): the
        texts as masked, the pieces replaced, and whether a guardrail rewrote them without saying what it
        replaced. GuardrailViolationError at the first block."""
        pairs: list[tuple[str, str]] = []
        opaque = False
        for configured in self._post:
            inspection = Inspection(GuardrailMode.POST_CALL, texts, request, reply=reply, final=final)
            verdict = await self.judge(configured, inspection)
            if verdict.blocked:
                raise GuardrailViolationError(configured.spec.name, verdict.reason)
            if verdict.decision is Decision.MASKED and verdict.texts is not None:
                texts = verdict.texts
                pairs.extend(verdict.replacements)
                opaque = opaque or not verdict.replacements
        return texts, pairs, opaque

    def stream(self, inner: ChunkStream, request: CompletionRequest) -> ChunkStream:
        """post_call on a stream (see GuardedStream); the stream itself when nothing watches replies."""
        if not self.watches_reply:
            return inner
        return GuardedStream(inner, self, request)

    async def logged(self, texts: Sequence[str]) -> list[str]:
        """logging_only: the texts as they may be logged and stored (masked; a block hides a text)."""
        out = list(texts)
        for configured in self.of(GuardrailMode.LOGGING_ONLY):
            verdict = await self.judge(configured, Inspection(GuardrailMode.LOGGING_ONLY, tuple(out)))
            if verdict.blocked:
                out = [f"[hidden by guardrail {configured.spec.name}]" if text else text for text in out]
            elif verdict.decision is Decision.MASKED and verdict.texts is not None:
                out = list(verdict.texts)
        return out

    @property
    def logs_masked(self) -> bool:
        return bool(self.of(GuardrailMode.LOGGING_ONLY))


_GRAVITY = {Decision.ALLOWED: 0, Decision.ERRORED: 1, Decision.MASKED: 2, Decision.BLOCKED: 3}


def _unavailable(spec: GuardrailSpec, why: str) -> Verdict:
    reason = f"guardrail unavailable ({why})" if why else "guardrail unavailable"
    if spec.fail_open:
        return Verdict(Decision.ERRORED, reason)
    return block(reason)
