"""Metering edge to edge: every call through the completions use case is priced and journaled once,
answered or failed, streamed or not; the writer moves the journal into the ledger."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import pytest

from adapters.cache.memory_router_state import InMemoryRouterState
from adapters.journal.memory_journal import InMemorySpendJournal
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from application.catalog import ModelCatalog
from application.completions import Completions
from application.metering import Metering
from application.pricing import Pricing
from application.routing import Router
from application.spend import SpendRecorder, SpendWriter
from domain.completions import Choice, CompletionRequest, CompletionResponse, FinishReason, Usage
from domain.deployments import Capabilities, Deployment
from domain.embeddings import EmbeddingRequest
from domain.errors import InternalServerError, NotFoundError
from domain.messages import Message, Role
from domain.pricing import ModelPrices
from domain.router_policy import RouterPolicy
from domain.spend import Caller, CallStatus, SpendLogQuery, SpendRecord
from ports.call_observer import CallObserver
from ports.price_catalog import CatalogUnavailable, ModelRef, PriceCatalog
from ports.spend_journal import JournalUnavailable, SpendJournal
from tests.fakes import FakeClock, FakeLLMProvider, FakeTelemetry, FakeTokenCounter, chunks_of, reply

PRICED = ModelPrices(input=Decimal("0.000001"), output=Decimal("0.000002"))


class CatalogOf(PriceCatalog):
    def __init__(self, known: dict[ModelRef, ModelPrices]) -> None:
        self.known = known
        self.asked: list[list[ModelRef]] = []

    async def prices(self, models):  # type: ignore[no-untyped-def]
        self.asked.append(list(models))
        return {ref: self.known[ref] for ref in models if ref in self.known}


def deployment(ident: str = "d1", prices: ModelPrices = PRICED, **kwargs: object) -> Deployment:
    return Deployment(
        id=ident, model_name="gpt-x", provider="openai", upstream_model="gpt-4o-mini", prices=prices, **kwargs
    )


async def _no_wait(seconds: float) -> None:
    return None


class Rig:
    def __init__(
        self,
        *deployments: Deployment,
        provider: FakeLLMProvider | None = None,
        catalog: PriceCatalog | None = None,
        journal: SpendJournal | None = None,
        fallback: SpendJournal | None = None,
        store_prompts: bool = False,
        log_prompts: bool = False,
    ) -> None:
        self.provider = provider or FakeLLMProvider()
        self.observed: list[SpendRecord] = []
        self.clock = FakeClock()
        self.journal = journal or InMemorySpendJournal()
        self.fallback = fallback
        self.recorder = SpendRecorder(journal=self.journal, fallback=fallback)
        self.ledger = InMemorySpendLedger()
        self.writer = SpendWriter(journals=self.recorder.journals, ledger=self.ledger)
        deployments = deployments or (deployment(),)
        self.metering = Metering(
            pricing=Pricing(catalog=catalog),
            counter=FakeTokenCounter(),
            recorder=self.recorder,
            clock=self.clock,
            store_prompts=store_prompts,
            log_prompts=log_prompts,
            observers=[Watching(self.observed)],
        )
        self.completions = Completions(
            catalog=ModelCatalog(deployments=deployments),
            providers={d.id: self.provider for d in deployments},
            mock=FakeLLMProvider(),
            router=Router(
                state=InMemoryRouterState(),
                policy=RouterPolicy(num_retries=1),
                clock=self.clock,
                rng=random.Random(7),
            ),
            clock=self.clock,
            telemetry=FakeTelemetry(),
            metering=self.metering,
            rng=random.Random(7),
            sleep=_no_wait,
        )

    async def records(self):  # type: ignore[no-untyped-def]
        await self.writer.drain_all()
        return await self.ledger.logs(SpendLogQuery(limit=1000))


class Watching(CallObserver):
    def __init__(self, seen: list[SpendRecord]) -> None:
        self.seen = seen

    def call_ended(self, record: SpendRecord) -> None:
        self.seen.append(record)


def ask(**kwargs: object) -> CompletionRequest:
    return CompletionRequest(model="gpt-x", messages=(Message(Role.USER, "three words here"),), **kwargs)


TEAM = Caller(key_hash="a" * 64, key_alias="ci", user_id="u1", team_id="t1", end_user="cust-9")


async def test_a_chat_reply_carries_its_exact_cost_and_one_record_charged_to_its_caller() -> None:
    rig = Rig(provider=FakeLLMProvider(replies=[reply("hi", usage=Usage(1000, 500))]))

    served = await rig.completions.chat(ask(), call_id="c1", caller=TEAM)

    # 1000 x 0.000001 + 500 x 0.000002 = 0.001 + 0.001
    assert served.value.cost == Decimal("0.002")
    assert (served.cost.input, served.cost.output) == (Decimal("0.001"), Decimal("0.001"))
    [record] = await rig.records()
    assert (record.request_id, record.call_type, record.status) == ("c1", "chat", CallStatus.SUCCESS)
    assert (record.cost, record.estimated, record.caller) == (Decimal("0.002"), False, TEAM)
    assert (record.deployment_id, record.provider, record.model_group) == ("d1", "openai", "gpt-x")
    assert record.usage == Usage(1000, 500)
    assert record.messages is None and record.response is None


async def test_the_catalog_prices_what_the_config_leaves_unset() -> None:
    listed = ModelPrices(input=Decimal("0.00000015"), output=Decimal(9))
    catalog = CatalogOf({("openai", "gpt-4o-mini"): listed})
    rig = Rig(
        deployment(prices=ModelPrices(output=Decimal("0.0000006"))),
        provider=FakeLLMProvider(replies=[reply("hi", usage=Usage(1_000_000, 1_000_000))]),
        catalog=catalog,
    )

    served = await rig.completions.chat(ask())

    # the catalog's input price, the config's output price: 0.15 + 0.60
    assert served.value.cost == Decimal("0.75")


async def test_a_model_without_any_price_costs_null_and_is_still_answered_and_recorded() -> None:
    rig = Rig(deployment(prices=ModelPrices()), provider=FakeLLMProvider(replies=[reply("hi")]))

    served = await rig.completions.chat(ask(), call_id="c1")

    assert served.value.cost is None and served.cost is None
    [record] = await rig.records()
    assert record.cost is None and record.usage == Usage(5, 2)


async def test_a_reply_without_usage_is_charged_for_tokens_counted_here_and_marked_estimated() -> None:
    bare = CompletionResponse(
        id="x", created=1, model="m",
        choices=(Choice(0, Message(Role.ASSISTANT, "four words of reply"), FinishReason.STOP),),
    )  # fmt: skip
    rig = Rig(provider=FakeLLMProvider(replies=[bare]))

    served = await rig.completions.chat(ask())

    # prompt: 3 words + 3 framing + 3 priming = 9 tokens; reply: 4 words
    assert served.value.cost == 9 * Decimal("0.000001") + 4 * Decimal("0.000002")
    [record] = await rig.records()
    assert record.estimated and record.usage == Usage(9, 4)


async def test_a_failed_call_is_recorded_once_as_a_failure_that_cost_nothing() -> None:
    rig = Rig(provider=FakeLLMProvider(replies=[InternalServerError("boom"), InternalServerError("boom")]))

    with pytest.raises(InternalServerError):
        await rig.completions.chat(ask(), call_id="c1", caller=TEAM)

    [record] = await rig.records()
    assert (record.status, record.error_type, record.status_code) == (CallStatus.FAILURE, "server_error", 500)
    assert record.cost is None and record.deployment_id == "d1" and record.caller == TEAM


async def test_an_unknown_model_is_recorded_as_a_failure_with_no_deployment() -> None:
    rig = Rig()

    with pytest.raises(NotFoundError):
        await rig.completions.chat(CompletionRequest(model="nope", messages=(Message(Role.USER, "x"),)))

    [record] = await rig.records()
    assert (record.model_group, record.deployment_id, record.status_code) == ("nope", None, 404)


async def test_a_retried_call_records_its_retries_in_its_one_record() -> None:
    rig = Rig(provider=FakeLLMProvider(replies=[InternalServerError("boom"), reply("ok")]))

    await rig.completions.chat(ask(), call_id="c1")

    [record] = await rig.records()
    assert (record.status, record.retries) == (CallStatus.SUCCESS, 1)


async def test_a_stream_is_priced_and_recorded_once_it_ends() -> None:
    rig = Rig(provider=FakeLLMProvider(streams=[chunks_of("a b c", usage=Usage(100, 30))]))

    served = await rig.completions.stream(ask(stream=True), call_id="s1", caller=TEAM)
    assert served.value.cost is None
    [chunk async for chunk in served.value]

    assert served.value.cost == 100 * Decimal("0.000001") + 30 * Decimal("0.000002")
    [record] = await rig.records()
    assert (record.call_type, record.cost, record.estimated) == ("stream", served.value.cost, False)
    assert record.time_to_first_token is not None


async def test_a_stream_cut_short_is_charged_for_what_it_delivered_counted_here() -> None:
    cut = [*chunks_of("one two", usage=None)[:3], InternalServerError("x")]
    rig = Rig(provider=FakeLLMProvider(streams=[cut]))

    served = await rig.completions.stream(ask(stream=True), call_id="s1")
    with pytest.raises(InternalServerError):
        [chunk async for chunk in served.value]

    [record] = await rig.records()
    assert record.status is CallStatus.FAILURE and record.estimated
    # prompt: 9 counted tokens; the text streamed before the cut, "one" + "two", is one word
    assert record.usage == Usage(9, 1)
    assert record.cost == 9 * Decimal("0.000001") + 1 * Decimal("0.000002")


async def test_a_stream_the_client_leaves_is_recorded_when_closed() -> None:
    rig = Rig(provider=FakeLLMProvider(streams=[chunks_of("a b c d e", usage=None)]))

    served = await rig.completions.stream(ask(stream=True), call_id="s1")
    async for _ in served.value:
        break
    await served.value.aclose()

    [record] = await rig.records()
    assert record.request_id == "s1" and record.estimated


async def test_embeddings_are_priced_by_their_input_tokens() -> None:
    rig = Rig(deployment(capabilities=Capabilities(embeddings=True)))

    served = await rig.completions.embed(EmbeddingRequest(model="gpt-x", inputs=("a", "b")), call_id="e1")

    assert served.value.cost == 3 * Decimal("0.000001")
    [record] = await rig.records()
    assert (record.call_type, record.usage.prompt_tokens) == ("embeddings", 3)


async def test_prompts_and_replies_are_stored_only_when_configured() -> None:
    rig = Rig(provider=FakeLLMProvider(replies=[reply("the answer")]), store_prompts=True)

    await rig.completions.chat(ask(), call_id="c1")

    [record] = await rig.records()
    assert record.messages == [{"role": "user", "content": "three words here"}]
    assert record.response == [{"role": "assistant", "content": "the answer"}]


PROMPT = [{"role": "user", "content": "three words here"}]
ANSWER = [{"role": "assistant", "content": "the answer"}]


@pytest.mark.parametrize(
    ("store_prompts", "log_prompts"), [(False, False), (True, False), (False, True), (True, True)]
)
async def test_the_ledger_keeps_the_text_only_when_storing_and_observers_see_it_only_when_logging(
    store_prompts: bool, log_prompts: bool
) -> None:
    rig = Rig(
        provider=FakeLLMProvider(replies=[reply("the answer")]),
        store_prompts=store_prompts,
        log_prompts=log_prompts,
    )

    await rig.completions.chat(ask(), call_id="c1")

    [stored] = await rig.records()
    [observed] = rig.observed
    assert (stored.messages, stored.response) == ((PROMPT, ANSWER) if store_prompts else (None, None))
    assert (observed.messages, observed.response) == ((PROMPT, ANSWER) if log_prompts else (None, None))
    assert dataclasses.replace(stored, messages=None, response=None) == dataclasses.replace(
        observed, messages=None, response=None
    )


async def test_a_streamed_reply_reaches_the_observers_as_its_text_when_logging() -> None:
    rig = Rig(provider=FakeLLMProvider(streams=[chunks_of("a b c", usage=Usage(3, 3))]), log_prompts=True)

    served = await rig.completions.stream(ask(stream=True), call_id="s1")
    [chunk async for chunk in served.value]

    [observed] = rig.observed
    assert observed.messages == PROMPT
    assert observed.response == [{"role": "assistant", "content": "abc"}]
    [stored] = await rig.records()
    assert stored.messages is None and stored.response is None


class DownJournal(InMemorySpendJournal):
    async def append(self, records):  # type: ignore[no-untyped-def]
        raise JournalUnavailable("redis down")

    async def take(self, limit):  # type: ignore[no-untyped-def]
        raise JournalUnavailable("redis down")


async def test_records_fall_back_to_the_local_journal_while_the_shared_one_is_down() -> None:
    fallback = InMemorySpendJournal()
    rig = Rig(provider=FakeLLMProvider(replies=[reply("hi")]), journal=DownJournal(), fallback=fallback)

    await rig.completions.chat(ask(), call_id="c1")

    assert [r.request_id for r in await rig.records()] == ["c1"]


async def test_the_writer_gives_a_batch_back_to_the_journal_while_the_database_is_down() -> None:
    from ports.unit_of_work import StoreUnavailable

    rig = Rig(provider=FakeLLMProvider(replies=[reply("hi")]))
    await rig.completions.chat(ask(), call_id="c1")
    real_write = rig.ledger.write

    async def down(records):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("down")

    rig.ledger.write = down  # type: ignore[method-assign]
    with pytest.raises(StoreUnavailable):
        await rig.writer.drain()
    rig.ledger.write = real_write  # type: ignore[method-assign]

    assert [r.request_id for r in await rig.records()] == ["c1"]


class FlakyCatalog(CatalogOf):
    """Cannot answer until told it may."""

    def __init__(self, known: dict[ModelRef, ModelPrices]) -> None:
        super().__init__(known)
        self.down = True

    async def prices(self, models):  # type: ignore[no-untyped-def]
        self.asked.append(list(models))
        if self.down:
            raise CatalogUnavailable("the lookup process failed")
        return await super().prices(models)


async def test_a_catalog_that_could_not_answer_is_asked_again_later_not_on_every_call() -> None:
    listed = ModelPrices(input=Decimal("0.000001"), output=Decimal("0.000002"))
    catalog = FlakyCatalog({("openai", "gpt-4o-mini"): listed})
    patient, eager = Pricing(catalog=catalog), Pricing(catalog=catalog, retry_after=0)
    unpriced = deployment(prices=ModelPrices())

    assert not (await patient.prices_for(unpriced)).priced
    assert not (await patient.prices_for(unpriced)).priced
    assert not (await eager.prices_for(unpriced)).priced
    assert len(catalog.asked) == 2  # patient's second call did not wait on the catalog again
    catalog.down = False
    assert not (await patient.prices_for(unpriced)).priced  # still within its minute
    assert await eager.prices_for(unpriced) == listed  # asked again, and answered


async def test_observers_see_each_finished_call_once_as_its_record() -> None:
    down = InternalServerError("down")
    rig = Rig(provider=FakeLLMProvider(replies=[reply("hi", usage=Usage(10, 5)), down, down]))

    await rig.completions.chat(ask(), call_id="ok", caller=TEAM)
    with pytest.raises(InternalServerError):
        await rig.completions.chat(ask(), call_id="failed")

    assert [(r.request_id, r.status) for r in rig.observed] == [
        ("ok", CallStatus.SUCCESS), ("failed", CallStatus.FAILURE)
    ]  # fmt: skip
    assert sorted(rig.observed, key=lambda r: r.request_id) == sorted(
        await rig.records(), key=lambda r: r.request_id
    )
