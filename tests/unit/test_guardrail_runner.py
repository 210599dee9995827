"""The guardrail runner on the call path, edge to edge through the completions use case with fakes:
which guardrails run, in what order, what each may do to a request, a reply and a stream, and what the
ledger keeps of it."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.journal.memory_journal import InMemorySpendJournal
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from application.catalog import ModelCatalog
from application.completions import Completions
from application.guardrails import Configured, Guardrails
from application.metering import Metering
from application.pricing import Pricing
from application.routing import Router
from application.spend import SpendRecorder, SpendWriter
from domain.completions import (
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    Delta,
    FinishReason,
    NativeRequest,
    ToolCallDelta,
    Usage,
    assemble,
)
from domain.deployments import Deployment
from domain.errors import BadRequestError, GuardrailViolationError
from domain.guardrails import (
    ALLOW,
    Decision,
    GuardrailMode,
    GuardrailSpec,
    Inspection,
    StreamCheck,
    Verdict,
    block,
    masked,
)
from domain.messages import Message, Role, TextPart
from domain.router_policy import RouterPolicy
from domain.spend import Caller, CallStatus, SpendLogQuery, SpendRecord
from ports.guardrail import GuardrailUnavailable
from ports.llm_provider import ChunkStream
from tests.fakes import (
    FakeChunkStream,
    FakeClock,
    FakeGuardrail,
    FakeLLMProvider,
    FakeTelemetry,
    FakeTokenCounter,
    reply,
)

PRE = GuardrailMode.PRE_CALL
DURING = GuardrailMode.DURING_CALL
POST = GuardrailMode.POST_CALL
LOGGING = GuardrailMode.LOGGING_ONLY

PROMPT = "Please draft a reply to bob@example.com about the Q3 invoice."
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]*\w")
HEAD = {"id": "chatcmpl-guarded", "created": 1700000000, "model": "fake-model"}


def email_mask(inspection: Inspection, *, restore: bool = False) -> Verdict:
    """Masks each email address as `[EMAIL_n]`, numbered in order of appearance, saying what it
    replaced (and, with `restore`, how to put it back)."""
    found: dict[str, str] = {}
    for text in inspection.texts:
        for match in EMAIL.findall(text):
            found.setdefault(match, f"[EMAIL_{len(found) + 1}]")
    if not found:
        return ALLOW
    texts = []
    for text in inspection.texts:
        for original, placeholder in found.items():
            text = text.replace(original, placeholder)
        texts.append(text)
    back = {placeholder: original for original, placeholder in found.items()} if restore else None
    return masked(texts, "masked: email", found.items(), back)


def keyword_block(word: str) -> Any:
    def check(inspection: Inspection) -> Verdict:
        return block("keyword") if any(word in text for text in inspection.texts) else ALLOW

    return check


def spec(
    name: str,
    *modes: GuardrailMode,
    default_on: bool = True,
    stream: StreamCheck = StreamCheck.WHOLE,
    window: int = 256,
    fail_open: bool = False,
) -> GuardrailSpec:
    return GuardrailSpec(
        name=name,
        kind="fake",
        modes=modes or (PRE,),
        default_on=default_on,
        stream=stream,
        window=window,
        fail_open=fail_open,
    )


async def _no_wait(seconds: float) -> None:
    return None


class Rig:
    """The completions use case over a fake provider, metered into an in-memory ledger, guarded by the
    given guardrails (in config order)."""

    def __init__(
        self,
        *guardrails: tuple[GuardrailSpec, FakeGuardrail],
        provider: FakeLLMProvider | None = None,
        store_prompts: bool = False,
    ) -> None:
        self.provider = provider or FakeLLMProvider()
        self.clock = FakeClock()
        self.state = InMemoryRouterState()
        self.deployment = Deployment(
            id="d1", model_name="gpt-x", provider="openai", upstream_model="gpt-4o-mini"
        )
        journal = InMemorySpendJournal()
        recorder = SpendRecorder(journal=journal)
        self.ledger = InMemorySpendLedger()
        self.writer = SpendWriter(journals=recorder.journals, ledger=self.ledger)
        metering = Metering(
            pricing=Pricing(catalog=None),
            counter=FakeTokenCounter(),
            recorder=recorder,
            clock=self.clock,
            store_prompts=store_prompts,
        )
        self.guardrails = Guardrails([Configured(s, g) for s, g in guardrails], self.clock)
        self.completions = Completions(
            catalog=ModelCatalog(deployments=(self.deployment,)),
            providers={"d1": self.provider},
            mock=FakeLLMProvider(),
            router=Router(
                state=self.state, policy=RouterPolicy(num_retries=0), clock=self.clock, rng=random.Random(7)
            ),
            clock=self.clock,
            telemetry=FakeTelemetry(),
            metering=metering,
            guardrails=self.guardrails,
            rng=random.Random(7),
            sleep=_no_wait,
        )

    async def records(self) -> list[SpendRecord]:
        await self.writer.drain_all()
        return list(await self.ledger.logs(SpendLogQuery(limit=100)))

    async def record(self) -> SpendRecord:
        [record] = await self.records()
        return record

    def sent(self) -> list[CompletionRequest]:
        return [request for request, _ in self.provider.requests]  # type: ignore[misc]

    async def load(self) -> Any:
        return (await self.state.snapshot(["d1"], self.clock.now()))["d1"]


def ask(text: str = PROMPT, **kwargs: Any) -> CompletionRequest:
    return CompletionRequest(model="gpt-x", messages=(Message(Role.USER, text),), **kwargs)


def runs(record: SpendRecord) -> list[tuple[str, GuardrailMode, Decision]]:
    return [(run.name, run.mode, run.decision) for run in record.guardrails]


def text_of(chunks: Sequence[CompletionChunk]) -> str:
    return "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)


SPENT = Usage(9, 12)


def streamed(*pieces: str, usage: Usage | None = SPENT) -> list[CompletionChunk]:
    """An upstream stream saying `pieces` one chunk each, then stop and usage."""
    chunks = [CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(role="assistant", content="")),))]
    chunks += [CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(content=p)),)) for p in pieces]
    chunks.append(CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(), FinishReason.STOP),)))
    if usage is not None:
        chunks.append(CompletionChunk(**HEAD, usage=usage))
    return chunks


class CountingStream(FakeChunkStream):
    """Counts the chunks the gateway has read from the upstream."""

    def __init__(self, chunks: Sequence[CompletionChunk | Exception]) -> None:
        super().__init__(chunks)
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        for item in self._chunks:
            if isinstance(item, Exception):
                raise item
            self.read += 1
            yield item


class CountingProvider(FakeLLMProvider):
    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        self.requests.append((request, deployment))
        opened = CountingStream(self.streams.pop(0))  # type: ignore[arg-type]
        self.opened.append(opened)
        return opened


async def collect(stream: ChunkStream) -> tuple[list[CompletionChunk], BaseException | None]:
    """The chunks a caller got, and what the stream raised (None: it ended well)."""
    got: list[CompletionChunk] = []
    try:
        async for chunk in stream:
            got.append(chunk)
    except GuardrailViolationError as exc:
        await stream.aclose()
        return got, exc
    return got, None


# --- order and short-circuit ----------------------------------------------------------------------


async def test_guardrails_run_in_config_order_and_the_first_block_wins_before_anything_is_sent() -> None:
    first = FakeGuardrail()
    second = FakeGuardrail({PRE: block("confidential project")})
    third = FakeGuardrail({PRE: block("never asked")})
    rig = Rig((spec("first"), first), (spec("second"), second), (spec("third"), third))

    with pytest.raises(GuardrailViolationError) as caught:
        await rig.completions.chat(ask(), call_id="c1")

    assert caught.value.guardrail == "second" and caught.value.reason == "confidential project"
    assert (caught.value.status_code, caught.value.code) == (400, "guardrail_violation")
    assert [len(first.seen), len(second.seen), third.seen] == [1, 1, []]
    assert rig.provider.requests == []
    record = await rig.record()
    assert (record.request_id, record.status, record.status_code) == ("c1", CallStatus.FAILURE, 400)
    assert runs(record) == [("first", PRE, Decision.ALLOWED), ("second", PRE, Decision.BLOCKED)]


async def test_the_config_order_holds_whatever_order_the_caller_names_them_in() -> None:
    order: list[str] = []

    def noting(name: str) -> Any:
        def check(inspection: Inspection) -> Verdict:
            order.append(name)
            return ALLOW

        return check

    rig = Rig(
        *((spec(name, default_on=False), FakeGuardrail({PRE: noting(name)})) for name in ("a", "b", "c"))
    )

    await rig.completions.chat(ask(controls={"guardrails": ["c", "a", "b"]}))

    assert order == ["a", "b", "c"]


# --- selection ------------------------------------------------------------------------------------


async def test_default_on_guardrails_run_on_every_call_and_the_others_only_when_named() -> None:
    always, optional = FakeGuardrail(), FakeGuardrail()
    rig = Rig((spec("always"), always), (spec("optional", default_on=False), optional))

    await rig.completions.chat(ask())

    assert (len(always.seen), len(optional.seen)) == (1, 0)
    assert runs(await rig.record()) == [("always", PRE, Decision.ALLOWED)]


@pytest.mark.parametrize(
    ("caller", "request_kwargs"),
    [
        (Caller(key_alias="ci", guardrails=("pii",)), {}),
        (None, {"controls": {"guardrails": ["pii"]}}),
        (None, {"metadata": {"guardrails": ["pii"]}}),
    ],
    ids=["the caller's key or team", "the request's guardrails", "the request's metadata.guardrails"],
)
async def test_a_guardrail_not_on_by_default_runs_when_named(
    caller: Caller | None, request_kwargs: dict[str, Any]
) -> None:
    pii, other = FakeGuardrail({PRE: email_mask}), FakeGuardrail()
    rig = Rig((spec("pii", default_on=False), pii), (spec("other", default_on=False), other))

    await rig.completions.chat(ask(**request_kwargs), caller=caller)

    assert (len(pii.seen), other.seen) == (1, [])
    assert "[EMAIL_1]" in rig.sent()[0].messages[0].text


async def test_a_call_no_guardrail_applies_to_is_sent_as_it_is_and_records_no_runs() -> None:
    optional = FakeGuardrail({PRE: email_mask})
    rig = Rig((spec("optional", default_on=False), optional))

    await rig.completions.chat(ask())

    assert rig.sent()[0].messages[0].text == PROMPT
    assert (await rig.record()).guardrails == ()


async def test_a_request_naming_an_unknown_guardrail_is_refused_naming_the_guardrails_param() -> None:
    rig = Rig((spec("pii"), FakeGuardrail()))

    with pytest.raises(BadRequestError) as caught:
        await rig.completions.chat(ask(controls={"guardrails": ["pii", "no-such-check"]}))

    assert caught.value.param == "guardrails"
    assert "no-such-check" in caught.value.message
    assert rig.provider.requests == []
    assert (await rig.record()).status is CallStatus.FAILURE


# --- pre_call masking ---------------------------------------------------------------------------


async def test_a_pre_call_mask_rewrites_what_the_provider_receives_and_what_the_ledger_keeps() -> None:
    rig = Rig((spec("pii"), FakeGuardrail({PRE: email_mask})), store_prompts=True)

    await rig.completions.chat(ask())

    assert rig.sent()[0].messages[0].text == "Please draft a reply to [EMAIL_1] about the Q3 invoice."
    record = await rig.record()
    assert record.messages == [
        {"role": "user", "content": "Please draft a reply to [EMAIL_1] about the Q3 invoice."}
    ]
    assert runs(record) == [("pii", PRE, Decision.MASKED)]


async def test_a_pre_call_mask_rewrites_a_request_sent_in_its_clients_own_format_too() -> None:
    system = "You are the billing assistant. Escalations go to ops@example.com."
    body = {
        "model": "claude-sonnet-4",
        "max_tokens": 512,
        "system": [{"type": "text", "text": system}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
    }
    request = CompletionRequest(
        model="gpt-x",
        messages=(Message(Role.SYSTEM, system), Message(Role.USER, (TextPart(PROMPT),))),
        native=NativeRequest(format="anthropic", body=body),
    )
    rig = Rig((spec("pii"), FakeGuardrail({PRE: email_mask})))

    await rig.completions.chat(request)

    [sent] = rig.sent()
    assert sent.native is not None
    native = sent.native.body
    assert native["system"] == [
        {"type": "text", "text": "You are the billing assistant. Escalations go to [EMAIL_1]."}
    ]
    assert native["messages"][0]["content"][0]["text"] == (
        "Please draft a reply to [EMAIL_2] about the Q3 invoice."
    )
    assert (native["model"], native["max_tokens"]) == ("claude-sonnet-4", 512)
    assert "example.com" not in repr(native) and "example.com" not in repr(sent.messages)


# --- output_parse_pii ---------------------------------------------------------------------------


async def test_placeholders_in_the_upstream_reply_are_given_back_their_originals() -> None:
    provider = FakeLLMProvider(replies=[reply("Done: I drafted the reply to [EMAIL_1].")])
    rig = Rig((spec("pii"), FakeGuardrail({PRE: lambda i: email_mask(i, restore=True)})), provider=provider)

    served = await rig.completions.chat(ask())

    assert rig.sent()[0].messages[0].text == "Please draft a reply to [EMAIL_1] about the Q3 invoice."
    assert served.value.choices[0].message.text == "Done: I drafted the reply to bob@example.com."


async def test_a_post_call_masks_own_placeholder_is_never_taken_for_the_prompts() -> None:
    answer = "I wrote to [EMAIL_1] and copied carol@example.org."
    provider = FakeLLMProvider(replies=[reply(answer)])
    pii = FakeGuardrail({PRE: lambda i: email_mask(i, restore=True), POST: email_mask})
    rig = Rig((spec("pii", PRE, POST), pii), provider=provider)

    served = await rig.completions.chat(ask())

    # The reply's own mask numbers carol's address [EMAIL_1] too: it stays masked, bob's comes back.
    assert served.value.choices[0].message.text == "I wrote to bob@example.com and copied [EMAIL_1]."


# --- during_call ----------------------------------------------------------------------------------


async def test_a_during_call_block_cancels_a_slow_upstream_call_and_raises() -> None:
    provider = FakeLLMProvider(replies=[reply("a long essay")])
    provider.delay = 30.0
    rig = Rig((spec("shield", DURING), FakeGuardrail({DURING: block("prompt injection")})), provider=provider)

    with pytest.raises(GuardrailViolationError) as caught:
        await asyncio.wait_for(rig.completions.chat(ask()), 5)

    assert caught.value.guardrail == "shield"
    assert len(rig.provider.requests) == 1  # it was asked...
    assert provider.in_flight == 0 and len(provider.replies) == 1  # ...and cancelled before answering
    assert (await rig.load()).in_flight == 0
    record = await rig.record()
    assert record.status is CallStatus.FAILURE
    assert runs(record) == [("shield", DURING, Decision.BLOCKED)]


async def test_a_quicker_upstream_answer_is_held_until_the_during_call_check_passes() -> None:
    gate = asyncio.Event()
    rig = Rig((spec("shield", DURING), FakeGuardrail(gate=gate)))

    call = asyncio.create_task(rig.completions.chat(ask()))
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(rig.provider.requests) == 1 and not call.done()
    gate.set()
    served = await asyncio.wait_for(call, 5)

    assert served.value.choices[0].message.text == "hello"
    assert runs(await rig.record()) == [("shield", DURING, Decision.ALLOWED)]


async def test_a_quicker_upstream_answer_is_dropped_when_the_during_call_check_then_blocks() -> None:
    gate = asyncio.Event()
    rig = Rig((spec("shield", DURING), FakeGuardrail({DURING: block("policy")}, gate=gate)))

    call = asyncio.create_task(rig.completions.chat(ask()))
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(rig.provider.requests) == 1 and not call.done()
    gate.set()

    with pytest.raises(GuardrailViolationError):
        await asyncio.wait_for(call, 5)
    assert (await rig.record()).status is CallStatus.FAILURE


async def test_a_stream_already_open_when_the_during_call_check_blocks_is_closed_and_recorded_once() -> None:
    gate = asyncio.Event()
    rig = Rig((spec("shield", DURING), FakeGuardrail({DURING: block("policy")}, gate=gate)))

    call = asyncio.create_task(rig.completions.stream(ask(stream=True)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(rig.provider.opened) == 1 and not call.done()
    gate.set()

    with pytest.raises(GuardrailViolationError):
        await asyncio.wait_for(call, 5)
    assert rig.provider.opened[0].closed
    records = await rig.records()
    assert [r.status for r in records] == [CallStatus.FAILURE]


async def test_a_chat_answered_before_the_during_call_block_is_recorded_with_what_it_spent() -> None:
    gate = asyncio.Event()
    provider = FakeLLMProvider(replies=[reply("Here is the essay.", usage=Usage(40, 9))])
    rig = Rig(
        (spec("shield", DURING), FakeGuardrail({DURING: block("policy")}, gate=gate)), provider=provider
    )

    call = asyncio.create_task(rig.completions.chat(ask()))
    for _ in range(20):
        await asyncio.sleep(0)
    gate.set()
    with pytest.raises(GuardrailViolationError):
        await asyncio.wait_for(call, 5)

    record = await rig.record()
    assert (record.status, record.deployment_id, record.usage) == (CallStatus.FAILURE, "d1", Usage(40, 9))


# --- post_call on whole replies -------------------------------------------------------------------


async def test_a_post_call_block_raises_and_the_failure_keeps_what_the_upstream_spent() -> None:
    provider = FakeLLMProvider(replies=[reply("Project Apollo ships in May.", usage=Usage(40, 9))])
    rig = Rig((spec("leaks", POST), FakeGuardrail({POST: keyword_block("Apollo")})), provider=provider)

    with pytest.raises(GuardrailViolationError) as caught:
        await rig.completions.chat(ask())

    assert caught.value.guardrail == "leaks"
    record = await rig.record()
    assert (record.status, record.status_code, record.usage) == (CallStatus.FAILURE, 400, Usage(40, 9))
    assert runs(record) == [("leaks", POST, Decision.BLOCKED)]


async def test_a_post_call_mask_rewrites_the_reply_and_lets_go_of_the_upstreams_own_body() -> None:
    said = "Sure, write to carol@example.org."
    native_body = {"id": "msg_1", "type": "message", "content": [{"type": "text", "text": said}]}
    upstream = dataclasses.replace(reply(said), native=native_body)
    rig = Rig((spec("pii", POST), FakeGuardrail({POST: email_mask})), provider=FakeLLMProvider([upstream]))

    served = await rig.completions.chat(ask())

    assert served.value.choices[0].message.text == "Sure, write to [EMAIL_1]."
    assert served.value.native is None
    assert runs(await rig.record()) == [("pii", POST, Decision.MASKED)]


# --- streams, whole -------------------------------------------------------------------------------


async def test_a_whole_stream_block_raises_from_stream_before_any_chunk_is_handed_out() -> None:
    provider = FakeLLMProvider(streams=[streamed("Project ", "Apollo ", "ships in May.")])
    rig = Rig((spec("leaks", POST), FakeGuardrail({POST: keyword_block("Apollo")})), provider=provider)

    with pytest.raises(GuardrailViolationError):
        await rig.completions.stream(ask(stream=True))

    assert provider.opened[0].closed
    assert (await rig.record()).status is CallStatus.FAILURE


async def test_a_whole_stream_block_is_recorded_with_what_the_upstream_spent() -> None:
    provider = FakeLLMProvider(streams=[streamed("Project ", "Apollo ", "ships in May.")])
    rig = Rig((spec("leaks", POST), FakeGuardrail({POST: keyword_block("Apollo")})), provider=provider)

    with pytest.raises(GuardrailViolationError):
        await rig.completions.stream(ask(stream=True))

    record = await rig.record()
    assert (record.status, record.usage) == (CallStatus.FAILURE, Usage(9, 12))


async def test_a_whole_stream_nothing_rewrote_keeps_its_chunks_and_native_bytes() -> None:
    chunks = [
        CompletionChunk(
            **HEAD, choices=(ChunkChoice(0, Delta(content=word)),), native=f"data: {i}\n\n".encode()
        )
        for i, word in enumerate(["The invoice ", "is paid."])
    ]
    chunks.append(
        CompletionChunk(
            **HEAD, choices=(ChunkChoice(0, Delta(), FinishReason.STOP),), native=b"data: end\n\n"
        )
    )
    rig = Rig(
        (spec("pii", POST), FakeGuardrail({POST: email_mask})), provider=FakeLLMProvider(streams=[chunks])
    )

    served = await rig.completions.stream(ask(stream=True))
    got, error = await collect(served.value)

    assert error is None
    assert got == chunks


async def test_a_whole_stream_a_guardrail_masked_is_rewritten() -> None:
    provider = FakeLLMProvider(streams=[streamed("Write to ", "carol@exa", "mple.org ", "today.")])
    rig = Rig((spec("pii", POST), FakeGuardrail({POST: email_mask})), provider=provider)

    served = await rig.completions.stream(ask(stream=True))
    got, error = await collect(served.value)

    assert error is None
    assert text_of(got) == "Write to [EMAIL_1] today."
    assert all(chunk.native is None for chunk in got)
    assert assemble(got).choices[0].finish_reason is FinishReason.STOP


# --- streams, window by window --------------------------------------------------------------------


def windowed(name: str = "pii", window: int = 16) -> GuardrailSpec:
    return spec(name, POST, stream=StreamCheck.WINDOW, window=window)


LONG = [f"Line {n:02d} of the quarterly report is fine. " for n in range(12)]


async def test_a_window_checked_stream_is_released_as_it_comes_not_held_to_its_end() -> None:
    provider = CountingProvider(streams=[streamed(*LONG)])
    rig = Rig((windowed(), FakeGuardrail({POST: email_mask})), provider=provider)

    served = await rig.completions.stream(ask(stream=True))
    upstream = provider.opened[0]
    seen_at_first_text: int | None = None
    got: list[CompletionChunk] = []
    async for chunk in served.value:
        got.append(chunk)
        if seen_at_first_text is None and text_of([chunk]):
            seen_at_first_text = upstream.read  # type: ignore[attr-defined]

    assert seen_at_first_text is not None and seen_at_first_text < len(LONG)
    assert text_of(got) == "".join(LONG)


async def test_an_email_split_across_chunks_never_leaves_unmasked() -> None:
    pieces = ["Hello team, please write ", "to bob@ex", "ample.com", " for the keys. ", *LONG[:3]]
    rig = Rig(
        (windowed(), FakeGuardrail({POST: email_mask})), provider=FakeLLMProvider(streams=[streamed(*pieces)])
    )

    served = await rig.completions.stream(ask(stream=True))
    got, error = await collect(served.value)

    assert error is None
    text = text_of(got)
    assert "bob@" not in text and "ample.com" not in text
    assert text == "".join(pieces).replace("bob@example.com", "[EMAIL_1]")


async def test_a_prompts_placeholder_split_across_chunks_is_given_back_and_a_new_email_masked() -> None:
    pieces = [*LONG[:2], "I sent it to [EMA", "IL_1] and to carol@exa", "mple.org as well. ", *LONG[2:5]]
    pii = FakeGuardrail({PRE: lambda i: email_mask(i, restore=True), POST: email_mask})
    rig = Rig(
        (spec("pii", PRE, POST, stream=StreamCheck.WINDOW, window=16), pii),
        provider=FakeLLMProvider(streams=[streamed(*pieces)]),
    )

    served = await rig.completions.stream(ask(stream=True))
    got, error = await collect(served.value)

    assert error is None
    assert "I sent it to bob@example.com and to [EMAIL_1] as well. " in text_of(got)
    assert "carol" not in text_of(got) and "[EMA" not in text_of(got).replace("[EMAIL_1]", "")


async def test_a_window_block_mid_stream_raises_after_the_earlier_text_and_never_yields_the_blocked() -> None:
    pieces = [*LONG[:6], "The launch code name is ", "Project Apo", "llo, keep it quiet. ", *LONG[6:]]
    provider = FakeLLMProvider(streams=[streamed(*pieces)])
    rig = Rig((windowed("leaks"), FakeGuardrail({POST: keyword_block("Apollo")})), provider=provider)

    served = await rig.completions.stream(ask(stream=True))
    got, error = await collect(served.value)

    assert isinstance(error, GuardrailViolationError) and error.guardrail == "leaks"
    text = text_of(got)
    assert text.startswith(LONG[0]) and len(text) > len(LONG[0])
    assert "Apo" not in text
    assert provider.opened[0].closed
    record = await rig.record()
    assert record.status is CallStatus.FAILURE
    assert runs(record) == [("leaks", POST, Decision.BLOCKED)]
    load = await rig.load()
    assert (load.cooldown_until, load.minute_failures) == (None, 0)


async def test_tool_call_deltas_and_the_finish_reason_pass_in_order_through_a_window_check() -> None:
    def tool(**kwargs: Any) -> CompletionChunk:
        return CompletionChunk(
            **HEAD, choices=(ChunkChoice(0, Delta(tool_calls=(ToolCallDelta(0, **kwargs),))),)
        )

    chunks = [
        CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(role="assistant", content="Let me check ")),)),
        CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(content="the weather.")),)),
        tool(id="call_1", name="get_weather", arguments=""),
        tool(arguments='{"city": '),
        tool(arguments='"Paris"}'),
        CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(), FinishReason.TOOL_CALLS),)),
        CompletionChunk(**HEAD, usage=Usage(30, 12)),
    ]
    rig = Rig((windowed(), FakeGuardrail({POST: email_mask})), provider=FakeLLMProvider(streams=[chunks]))

    served = await rig.completions.stream(ask(stream=True))
    got, error = await collect(served.value)

    assert error is None
    kinds = []
    for chunk in got:
        for choice in chunk.choices:
            if choice.delta.content:
                kinds.append("text")
            kinds += ["tool"] * len(choice.delta.tool_calls)
            if choice.finish_reason is not None:
                kinds.append(str(choice.finish_reason))
    assert kinds[0] == "text" and kinds[kinds.index("tool") :] == ["tool", "tool", "tool", "tool_calls"]
    assert "text" not in kinds[kinds.index("tool") :]
    whole = assemble(got).choices[0]
    assert whole.message.text == "Let me check the weather."
    assert [(c.name, c.arguments) for c in whole.message.tool_calls] == [("get_weather", '{"city": "Paris"}')]
    assert whole.finish_reason is FinishReason.TOOL_CALLS


async def test_a_window_checked_stream_of_tool_calls_only_is_judged_and_recorded_all_the_same() -> None:
    call = ToolCallDelta(0, id="call_1", name="get_weather", arguments='{"city": "Paris"}')
    chunks = [
        CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(role="assistant", tool_calls=(call,))),)),
        CompletionChunk(**HEAD, choices=(ChunkChoice(0, Delta(), FinishReason.TOOL_CALLS),)),
    ]
    guardrail = FakeGuardrail({POST: email_mask})
    rig = Rig((windowed(), guardrail), provider=FakeLLMProvider(streams=[chunks]))

    served = await rig.completions.stream(ask(stream=True))
    got, error = await collect(served.value)

    assert error is None
    assert assemble(got).choices[0].message.tool_calls[0].name == "get_weather"
    assert [inspection.texts for inspection in guardrail.seen] == [()]
    assert runs(await rig.record()) == [("pii", POST, Decision.ALLOWED)]


async def test_a_streams_window_checks_add_up_to_one_run_per_guardrail_and_mode() -> None:
    clock_steps = 0.002

    rig_holder: list[Rig] = []

    def timed(inspection: Inspection) -> Verdict:
        rig_holder[0].clock.advance(clock_steps)
        return ALLOW

    guardrail = FakeGuardrail({POST: timed})
    rig = Rig((windowed(), guardrail), provider=FakeLLMProvider(streams=[streamed(*LONG)]))
    rig_holder.append(rig)

    served = await rig.completions.stream(ask(stream=True))
    await collect(served.value)

    record = await rig.record()
    assert len(guardrail.seen) > 2
    [run] = record.guardrails
    assert (run.name, run.mode, run.decision) == ("pii", POST, Decision.ALLOWED)
    assert run.duration == pytest.approx(clock_steps * len(guardrail.seen), abs=1e-5)


# --- on_error -------------------------------------------------------------------------------------


async def test_a_guardrail_that_cannot_decide_blocks_the_call_by_default() -> None:
    down = FakeGuardrail(error=GuardrailUnavailable("guardrail service did not answer within 10s"))
    rig = Rig((spec("acme-shield"), down))

    with pytest.raises(GuardrailViolationError) as caught:
        await rig.completions.chat(ask())

    assert caught.value.reason == "guardrail unavailable (guardrail service did not answer within 10s)"
    assert rig.provider.requests == []


async def test_with_on_error_allow_the_call_goes_on_and_the_run_is_recorded_as_errored() -> None:
    down = FakeGuardrail(error=GuardrailUnavailable("guardrail service answered HTTP 503"))
    rig = Rig((spec("acme-shield", fail_open=True), down))

    served = await rig.completions.chat(ask())

    assert served.value.choices[0].message.text == "hello"
    assert rig.sent()[0].messages[0].text == PROMPT
    record = await rig.record()
    assert record.status is CallStatus.SUCCESS
    assert runs(record) == [("acme-shield", PRE, Decision.ERRORED)]
    assert record.guardrails[0].reason == "guardrail unavailable (guardrail service answered HTTP 503)"


async def test_a_guardrail_that_fails_with_any_other_error_blocks_even_with_on_error_allow() -> None:
    buggy = FakeGuardrail(error=KeyError("texts"))
    rig = Rig((spec("buggy", fail_open=False), buggy))

    with pytest.raises(GuardrailViolationError) as caught:
        await rig.completions.chat(ask())

    assert caught.value.reason == "guardrail unavailable (KeyError)"
    assert rig.provider.requests == []


# --- logging_only ---------------------------------------------------------------------------------


async def test_logging_only_masks_what_is_stored_but_never_what_is_sent_or_answered() -> None:
    provider = FakeLLMProvider(replies=[reply("Drafted; bob@example.com will get it today.")])
    rig = Rig(
        (spec("log-pii", LOGGING), FakeGuardrail({LOGGING: email_mask})),
        provider=provider,
        store_prompts=True,
    )

    served = await rig.completions.chat(ask())

    assert rig.sent()[0].messages[0].text == PROMPT
    assert served.value.choices[0].message.text == "Drafted; bob@example.com will get it today."
    record = await rig.record()
    assert record.messages == [
        {"role": "user", "content": "Please draft a reply to [EMAIL_1] about the Q3 invoice."}
    ]
    assert "bob@example.com" not in repr(record.response)
    assert "[EMAIL_1]" in repr(record.response)


async def test_a_logging_only_block_hides_the_stored_text_and_lets_the_call_go_on() -> None:
    provider = FakeLLMProvider(replies=[reply("Project Apollo ships in May.")])
    hiding = FakeGuardrail({LOGGING: keyword_block("Apollo")})
    rig = Rig((spec("log-leaks", LOGGING), hiding), provider=provider, store_prompts=True)

    served = await rig.completions.chat(ask())

    assert served.value.choices[0].message.text == "Project Apollo ships in May."
    record = await rig.record()
    assert record.status is CallStatus.SUCCESS
    assert "Apollo" not in repr(record.response)
    assert record.messages == [{"role": "user", "content": PROMPT}]


# --- the router -----------------------------------------------------------------------------------


async def test_a_guardrail_block_of_a_reply_is_not_counted_against_the_deployment() -> None:
    provider = FakeLLMProvider(
        replies=[reply("Project Apollo ships in May.")],
        streams=[streamed(*LONG[:4], "Project Apollo ships in May. ", *LONG[4:])],
    )
    rig = Rig(
        (spec("leaks", POST), FakeGuardrail({POST: keyword_block("Apollo")})),
        (windowed("leaks-live"), FakeGuardrail({POST: keyword_block("Apollo")})),
        provider=provider,
    )

    with pytest.raises(GuardrailViolationError):
        await rig.completions.chat(ask())
    with pytest.raises(GuardrailViolationError):
        await rig.completions.stream(ask(stream=True))

    load = await rig.load()
    assert (load.cooldown_until, load.minute_failures, load.in_flight) == (None, 0, 0)
