"""Metering: what each call cost, and its one spend record, written to the journal before the call's
answer is complete."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from application.pricing import Pricing
from application.spend import SpendRecorder
from domain.audio import SpeechRequest, TranscriptionRequest
from domain.completions import CompletionRequest, CompletionResponse, Usage
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest
from domain.errors import SwitchyardError
from domain.frozen import frozen
from domain.images import ImageRequest
from domain.moderation import ModerationRequest
from domain.pricing import Cost, cost_of
from domain.rerank import RerankRequest
from domain.spend import ANONYMOUS, Caller, CallStatus, SpendRecord
from ports.call_observer import CallObserver
from ports.clock import Clock
from ports.token_counter import TokenCounter

if TYPE_CHECKING:
    from application.guardrails import CallGuard

Request = (
    CompletionRequest
    | EmbeddingRequest
    | ModerationRequest
    | RerankRequest
    | ImageRequest
    | TranscriptionRequest
    | SpeechRequest
)


@dataclasses.dataclass(slots=True)
class CallMeter:
    """One call's facts, gathered from its start until it ends."""

    call_id: str
    call_type: str
    request: Request
    caller: Caller
    started_at: float
    """Wall-clock seconds."""
    guard: CallGuard | None = None
    """The call's guardrails: what they did goes into the record, and logging_only ones mask its text."""


@frozen
class Metered:
    """A finished call's cost and the usage it was charged for (counted by the gateway when the
    provider reported none: `estimated`)."""

    usage: Usage
    cost: Cost | None
    estimated: bool = False

    @property
    def total(self) -> Decimal | None:
        return self.cost.total if self.cost is not None else None


class Metering:
    """Prices each finished call by the usage its provider reported (or, without one, by tokens counted
    here) and records it once, success or failure, in the spend journal. Its prompt and reply text go to
    the journal only with `store_prompts`, and to the observers only with `log_prompts`."""

    def __init__(
        self,
        *,
        pricing: Pricing,
        counter: TokenCounter,
        recorder: SpendRecorder,
        clock: Clock,
        store_prompts: bool = False,
        log_prompts: bool = False,
        observers: Sequence[CallObserver] = (),
    ) -> None:
        self._pricing = pricing
        self._observers = tuple(observers)
        self._counter = counter
        self._recorder = recorder
        self._clock = clock
        self._store_prompts = store_prompts
        self._log_prompts = log_prompts
        self._prompts = store_prompts or log_prompts

    @property
    def observers(self) -> tuple[CallObserver, ...]:
        return self._observers

    def start(self, call_id: str, call_type: str, request: Request, caller: Caller | None) -> CallMeter:
        return CallMeter(call_id, call_type, request, caller or ANONYMOUS, self._clock.now())

    async def cost(self, deployment: Deployment, usage: Usage) -> Cost | None:
        return cost_of(usage, await self._pricing.prices_for(deployment))

    async def succeeded(
        self,
        meter: CallMeter,
        deployment: Deployment,
        usage: Usage | None,
        *,
        reply: CompletionResponse | None = None,
        reply_text: Sequence[str] = (),
        retries: int = 0,
        fallbacks: int = 0,
        first_token: float | None = None,
        upstream_seconds: float | None = None,
    ) -> Metered:
        """A call that was answered: priced by `usage`, or without one by counting the prompt and the
        reply (`reply`, or a stream's `reply_text`)."""
        if usage is None and reply is not None:
            reply_text = _reply_text(reply)
        metered = await self._metered(meter, deployment, usage, reply_text)
        await self._record(
            meter,
            deployment,
            metered,
            retries=retries,
            fallbacks=fallbacks,
            first_token=first_token,
            upstream_seconds=upstream_seconds,
            response=_stored_reply(reply, reply_text) if self._prompts else None,
        )
        return metered

    async def cached(self, meter: CallMeter, deployment: Deployment) -> None:
        """A call answered from the response cache: recorded as a hit, with nothing spent upstream (no
        tokens, cost 0), credited to `deployment`."""
        await self._record(meter, deployment, Metered(Usage(), Cost()), cache_hit=True, upstream_seconds=0.0)

    async def failed(
        self,
        meter: CallMeter,
        error: SwitchyardError,
        deployment: Deployment | None = None,
        usage: Usage | None = None,
        *,
        reply_text: Sequence[str] = (),
        first_token: float | None = None,
        upstream_seconds: float | None = None,
    ) -> Metered:
        """A call that ended in `error`: nothing charged unless a stream had already produced tokens
        (a stream cut short is charged for what it delivered)."""
        if deployment is not None and (usage is not None or reply_text):
            metered = await self._metered(meter, deployment, usage, reply_text)
        else:
            metered = Metered(usage or Usage(), None)
        await self._record(
            meter,
            deployment,
            metered,
            error=error,
            first_token=first_token,
            upstream_seconds=upstream_seconds,
        )
        return metered

    async def _metered(
        self, meter: CallMeter, deployment: Deployment, usage: Usage | None, reply_text: Sequence[str]
    ) -> Metered:
        estimated = usage is None
        if usage is None:
            usage = self._count(meter.request, deployment, reply_text)
        return Metered(usage, await self.cost(deployment, usage), estimated)

    def _count(self, request: Request, deployment: Deployment, reply_text: Sequence[str]) -> Usage:
        model = deployment.upstream_model
        if not isinstance(request, CompletionRequest):
            prompt = sum(
                self._counter.count_text(text, model) if isinstance(text, str) else len(text)
                for text in request.inputs
            )
            return Usage(prompt_tokens=prompt)
        prompt = self._counter.count_messages(request.messages, model, request.tools)
        completion = self._counter.count_text("".join(reply_text), model) if reply_text else 0
        return Usage(prompt_tokens=prompt, completion_tokens=completion)

    async def _record(
        self,
        meter: CallMeter,
        deployment: Deployment | None,
        metered: Metered,
        *,
        error: SwitchyardError | None = None,
        retries: int = 0,
        fallbacks: int = 0,
        first_token: float | None = None,
        upstream_seconds: float | None = None,
        response: Any = None,
        cache_hit: bool = False,
    ) -> None:
        request = meter.request
        cost = metered.cost
        tags = request.controls.get("tags") or ()
        messages = _prompt(request) if self._prompts else None
        guard = meter.guard
        if guard is not None and guard.logs_masked and (messages is not None or response is not None):
            messages = await _masked_for_log(guard, messages)
            response = await _masked_for_log(guard, response)
        record = SpendRecord(
            request_id=meter.call_id,
            call_type=meter.call_type,
            started_at=_utc(meter.started_at),
            ended_at=_utc(self._clock.now()),
            model_group=request.model,
            caller=meter.caller,
            deployment_id=deployment.id if deployment else (error.deployment if error else None),
            provider=deployment.provider if deployment else (error.provider if error else None),
            upstream_model=deployment.upstream_model if deployment else None,
            usage=metered.usage,
            cost=cost.total if cost is not None else None,
            input_cost=cost.input if cost is not None else None,
            output_cost=cost.output if cost is not None else None,
            estimated=metered.estimated,
            status=CallStatus.FAILURE if error is not None else CallStatus.SUCCESS,
            error_type=error.error_type if error is not None else None,
            status_code=error.status_code if error is not None else 200,
            retries=retries,
            fallbacks=fallbacks,
            time_to_first_token=first_token,
            upstream_seconds=upstream_seconds,
            cache_hit=cache_hit,
            tags=tuple([str(tag) for tag in tags]) if tags and isinstance(tags, list | tuple) else (),
            metadata=dict(request.metadata),
            messages=messages,
            response=response,
            guardrails=tuple(guard.runs) if guard is not None else (),
        )
        await self._write(record)

    async def relayed(
        self,
        *,
        call_id: str,
        call_type: str,
        model: str,
        caller: Caller,
        deployment: Deployment,
        usage: Usage | None,
        started_at: float,
        status_code: int,
        stated_cost: Decimal | None = None,
    ) -> Metered:
        """A pass-through call, relayed as it was: priced by the usage its reply stated, else at the cost
        the upstream stated (all of it counted as input), else cost None (nothing is counted here)."""
        cost = await self.cost(deployment, usage) if usage is not None else None
        if cost is None and stated_cost is not None:
            cost = Cost(input=stated_cost)
        metered = Metered(usage or Usage(), cost)
        failed = status_code >= 400
        await self._write(
            SpendRecord(
                request_id=call_id,
                call_type=call_type,
                started_at=_utc(started_at),
                ended_at=_utc(self._clock.now()),
                model_group=model,
                caller=caller,
                deployment_id=deployment.id,
                provider=deployment.provider,
                upstream_model=deployment.upstream_model,
                usage=metered.usage,
                cost=metered.total,
                input_cost=cost.input if cost is not None else None,
                output_cost=cost.output if cost is not None else None,
                status=CallStatus.FAILURE if failed else CallStatus.SUCCESS,
                status_code=status_code,
            )
        )
        return metered

    async def _write(self, record: SpendRecord) -> None:
        # The text is kept for one of the two only: the other gets the record without it.
        bare = record
        if self._store_prompts != self._log_prompts:
            bare = dataclasses.replace(record, messages=None, response=None)
        await self._recorder.record(record if self._store_prompts else bare)
        observed = record if self._log_prompts else bare
        for observer in self._observers:
            observer.call_ended(observed)


async def _masked_for_log(guard: CallGuard, kept: Any) -> Any:
    """The prompt or reply as `_prompt` / `_stored_reply` keep it, its text masked by the logging_only
    guardrails."""
    if not kept:
        return kept
    texts = [entry["content"] if isinstance(entry, dict) else entry for entry in kept]
    strings = [text if isinstance(text, str) else "" for text in texts]
    masked = await guard.logged(strings)
    out = []
    for entry, text, new in zip(kept, texts, masked, strict=True):
        value = new if isinstance(text, str) else text
        out.append({**entry, "content": value} if isinstance(entry, dict) else value)
    return out


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _prompt(request: Request) -> Any:
    if not isinstance(request, CompletionRequest):
        return [text if isinstance(text, str) else list(text) for text in request.inputs]
    return [{"role": str(m.role), "content": m.text} for m in request.messages]


def _reply_text(response: CompletionResponse) -> list[str]:
    """What a reply's tokens were spent on (its text, reasoning and tool-call arguments), for a count
    when the provider reported no usage."""
    parts: list[str] = []
    for choice in response.choices:
        message = choice.message
        parts.append(message.text)
        if message.reasoning_content:
            parts.append(message.reasoning_content)
        parts.extend(call.name + call.arguments for call in message.tool_calls)
    return parts


def _stored_reply(response: CompletionResponse | None, streamed: Sequence[str]) -> Any:
    """The reply's text as the spend log keeps it, or the observers see it, when prompts are kept."""
    if response is None:
        return [{"role": "assistant", "content": "".join(streamed)}]
    return [{"role": "assistant", "content": choice.message.text} for choice in response.choices]
