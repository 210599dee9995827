"""The Responses API's state: who may read a stored response, the conversation behind
previous_response_id, retention, and background calls with their cancellation."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest

from adapters.persistence.memory import InMemoryStore
from application.responses import WRITE_WAIT, Responses
from domain.access import MASTER, Principal, Via
from domain.errors import BadRequestError, NotFoundError
from domain.identity import Role, VirtualKey
from domain.responses import ResponseStatus, StoredResponse
from ports.unit_of_work import StoreUnavailable
from tests.fakes import FakeClock


def _caller(secret: str, team_id: str | None = None) -> Principal:
    token = hashlib.sha256(secret.encode()).hexdigest()
    key = VirtualKey(token=token, key_name=f"sk-...{secret[-4:]}", team_id=team_id)
    return Principal(via=Via.VIRTUAL_KEY, role=Role.INTERNAL_USER, key=key, team_id=team_id)


ALICE = _caller("sk-alice", team_id="red")
ALICE_TEAMMATE = _caller("sk-carol", team_id="red")
BOB = _caller("sk-bob", team_id="blue")


def _message(id: str, role: str, text: str) -> dict:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "id": id, "role": role, "content": [{"type": kind, "text": text}]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def responses(clock: FakeClock) -> Responses:
    return Responses(uow=InMemoryStore().unit_of_work, clock=clock, retention=timedelta(days=30), linger=0)


def _turn(
    responses: Responses,
    principal: Principal,
    question: str,
    answer: str,
    *,
    previous: str | None = None,
    background: bool = False,
    status: str = "completed",
) -> StoredResponse:
    id = responses.new_id()
    body = {
        "id": id,
        "object": "response",
        "status": status,
        "background": background,
        "output": [_message(f"msg_out_{question}", "assistant", answer)],
    }
    return responses.record(
        id=id,
        principal=principal,
        model="demo",
        input_items=(_message(f"msg_in_{question}", "user", question),),
        body=body,
        previous_response_id=previous,
    )


async def test_a_kept_response_is_read_by_its_key_and_its_team_but_not_by_others(responses) -> None:
    kept = _turn(responses, ALICE, "hi", "hello")
    await responses.keep(kept)

    assert (await responses.get(kept.id, ALICE)).body == kept.body
    assert (await responses.get(kept.id, ALICE_TEAMMATE)).id == kept.id
    assert (await responses.get(kept.id, MASTER)).id == kept.id
    with pytest.raises(NotFoundError) as refused:
        await responses.get(kept.id, BOB)
    assert refused.value.status_code == 404
    assert kept.id in str(refused.value)


async def test_the_thread_of_a_response_is_every_earlier_input_and_output_oldest_first(responses) -> None:
    first = _turn(responses, ALICE, "one", "1")
    await responses.keep(first)
    second = _turn(responses, ALICE, "two", "2", previous=first.id)
    await responses.keep(second)

    thread = await responses.thread(second.id, ALICE)

    assert [item["id"] for item in thread] == ["msg_in_one", "msg_out_one", "msg_in_two", "msg_out_two"]
    assert await responses.thread(None, ALICE) == ()


async def test_a_previous_response_that_is_unknown_or_someone_elses_is_a_404_naming_it(responses) -> None:
    kept = _turn(responses, ALICE, "hi", "hello")
    await responses.keep(kept)

    for id, caller in (("resp_nope", ALICE), (kept.id, BOB)):
        with pytest.raises(NotFoundError) as refused:
            await responses.thread(id, caller)
        assert refused.value.param == "previous_response_id"


async def test_a_previous_response_still_running_is_refused(responses) -> None:
    running = _turn(responses, ALICE, "hi", "", status="in_progress", background=True)
    await responses.keep(running)

    with pytest.raises(BadRequestError) as refused:
        await responses.thread(running.id, ALICE)
    assert refused.value.param == "previous_response_id"


async def test_responses_past_their_retention_are_gone_and_purged(responses, clock) -> None:
    old = _turn(responses, ALICE, "old", "o")
    await responses.keep(old)
    clock.advance(timedelta(days=20).total_seconds())
    recent = _turn(responses, ALICE, "new", "n", previous=old.id)
    await responses.keep(recent)
    clock.advance(timedelta(days=11).total_seconds())

    with pytest.raises(NotFoundError):
        await responses.get(old.id, ALICE)
    # The expired ancestor ends the conversation: what is left starts after it.
    assert [item["id"] for item in await responses.thread(recent.id, ALICE)] == ["msg_in_new", "msg_out_new"]
    assert await responses.purge() == 1
    assert (await responses.get(recent.id, ALICE)).id == recent.id


async def test_a_deleted_response_is_gone(responses) -> None:
    kept = _turn(responses, ALICE, "hi", "hello")
    await responses.keep(kept)

    await responses.delete(kept.id, ALICE)

    with pytest.raises(NotFoundError):
        await responses.get(kept.id, ALICE)
    with pytest.raises(NotFoundError):
        await responses.delete(kept.id, ALICE)


async def test_a_background_call_is_kept_queued_then_replaced_by_its_result(responses) -> None:
    queued = _turn(responses, ALICE, "hi", "", status="queued", background=True)
    release = asyncio.Event()
    seen: list[ResponseStatus] = []

    async def work(running: StoredResponse) -> StoredResponse:
        seen.append(running.status)
        await release.wait()
        return running.with_status(ResponseStatus.COMPLETED)

    await responses.start(queued, work)
    assert (await responses.get(queued.id, ALICE)).status is ResponseStatus.QUEUED
    await asyncio.sleep(0)
    assert (await responses.get(queued.id, ALICE)).status is ResponseStatus.IN_PROGRESS
    release.set()
    for _ in range(20):
        await asyncio.sleep(0)

    done = await responses.get(queued.id, ALICE)
    assert done.status is ResponseStatus.COMPLETED
    assert done.body["status"] == "completed"
    assert seen == [ResponseStatus.IN_PROGRESS]


async def test_a_cancelled_background_call_stays_cancelled(responses) -> None:
    queued = _turn(responses, ALICE, "hi", "", status="queued", background=True)
    started = asyncio.Event()

    async def work(running: StoredResponse) -> StoredResponse:
        started.set()
        await asyncio.sleep(3600)
        return running.with_status(ResponseStatus.COMPLETED)

    await responses.start(queued, work)
    await started.wait()

    cancelled = await responses.cancel(queued.id, ALICE)
    await responses.drain()

    assert cancelled.status is ResponseStatus.CANCELLED
    assert cancelled.body["status"] == "cancelled"
    assert (await responses.get(queued.id, ALICE)).status is ResponseStatus.CANCELLED
    assert (await responses.cancel(queued.id, ALICE)).status is ResponseStatus.CANCELLED


async def test_only_unfinished_background_calls_can_be_cancelled(responses) -> None:
    plain = _turn(responses, ALICE, "hi", "hello")
    await responses.keep(plain)
    finished = _turn(responses, ALICE, "bg", "done", background=True)
    await responses.keep(finished)

    for id in (plain.id, finished.id):
        with pytest.raises(BadRequestError):
            await responses.cancel(id, ALICE)


async def test_a_gateway_stopping_marks_its_running_background_calls_cancelled(responses) -> None:
    queued = _turn(responses, ALICE, "hi", "", status="queued", background=True)
    started = asyncio.Event()

    async def work(running: StoredResponse) -> StoredResponse:
        started.set()
        await asyncio.sleep(3600)
        return running

    await responses.start(queued, work)
    await started.wait()
    await responses.drain()

    assert (await responses.get(queued.id, ALICE)).status is ResponseStatus.CANCELLED


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_kept_response_is_readable_at_once_and_written_beside_the_request(clock) -> None:
    store = InMemoryStore()
    here = Responses(uow=store.unit_of_work, clock=clock, linger=0)
    elsewhere = Responses(uow=store.unit_of_work, clock=clock, sleep=_no_wait, linger=0)
    kept = _turn(here, ALICE, "hi", "hello")

    await here.keep(kept)
    assert (await here.get(kept.id, ALICE)).id == kept.id  # before any write
    await _settle()

    assert (await elsewhere.get(kept.id, ALICE)).body == kept.body
    assert [item["id"] for item in await elsewhere.thread(kept.id, ALICE)] == ["msg_in_hi", "msg_out_hi"]


async def _no_wait(seconds: float) -> None:
    return None


class _Outage:
    """The store's units of work, failing while `down`."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.down = True

    def __call__(self):
        if self.down:
            raise StoreUnavailable("the database is away")
        return self.store.unit_of_work()


async def test_responses_kept_while_the_database_is_away_are_written_once_it_is_back(clock) -> None:
    store = InMemoryStore()
    outage = _Outage(store)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    responses = Responses(uow=outage, clock=clock, sleep=sleep, linger=0)
    first = _turn(responses, ALICE, "one", "1")
    await responses.keep(first)
    second = _turn(responses, ALICE, "two", "2", previous=first.id)
    await responses.keep(second)
    await _settle()

    # Unwritten, the conversation is still served from here.
    assert [item["id"] for item in await responses.thread(second.id, ALICE)][-1] == "msg_out_two"
    outage.down = False
    await _settle()

    reader = Responses(uow=store.unit_of_work, clock=clock, sleep=_no_wait, linger=0)
    assert [item["id"] for item in await reader.thread(second.id, ALICE)] == [
        "msg_in_one", "msg_out_one", "msg_in_two", "msg_out_two"
    ]  # fmt: skip
    assert waits and waits == sorted(waits)  # backing off while it was away


async def test_what_is_pending_at_shutdown_is_written(clock) -> None:
    store = InMemoryStore()
    responses = Responses(uow=store.unit_of_work, clock=clock, linger=0)
    kept = _turn(responses, ALICE, "hi", "hello")
    await responses.keep(kept)

    await responses.drain()

    reader = Responses(uow=store.unit_of_work, clock=clock, sleep=_no_wait, linger=0)
    assert (await reader.get(kept.id, ALICE)).id == kept.id


async def test_a_lookup_that_finds_nothing_looks_again_after_a_moment(clock) -> None:
    store = InMemoryStore()
    waits: list[float] = []
    writer = Responses(uow=store.unit_of_work, clock=clock, linger=0)
    late = _turn(writer, ALICE, "hi", "hello")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await writer.keep(late)  # another instance answers it meanwhile
        await _settle()

    reader = Responses(uow=store.unit_of_work, clock=clock, sleep=sleep, linger=0)

    assert (await reader.get(late.id, ALICE)).id == late.id
    assert waits == [WRITE_WAIT]


async def test_responses_kept_close_together_are_written_together(clock) -> None:
    store = InMemoryStore()
    commits: list[int] = []

    class Counting:
        def __call__(self):
            uow = store.unit_of_work()
            commit = uow.commit

            async def counted() -> None:
                commits.append(1)
                await commit()

            uow.commit = counted
            return uow

    lingered: list[float] = []

    async def sleep(seconds: float) -> None:
        lingered.append(seconds)
        await asyncio.sleep(0)

    responses = Responses(uow=Counting(), clock=clock, sleep=sleep, linger=0.05)
    kept = [_turn(responses, ALICE, f"q{n}", "a") for n in range(5)]
    for each in kept:
        await responses.keep(each)
    await _settle()

    assert lingered == [0.05] and len(commits) == 1
    reader = Responses(uow=store.unit_of_work, clock=clock, sleep=_no_wait, linger=0)
    for each in kept:
        assert (await reader.get(each.id, ALICE)).id == each.id


async def test_a_response_deleted_while_its_write_is_in_flight_stays_deleted(clock) -> None:
    store = InMemoryStore()
    in_flight, release = asyncio.Event(), asyncio.Event()

    class Slow:
        def __call__(self):
            uow = store.unit_of_work()
            add_new = uow.responses.add_new

            async def slow_add_new(responses):  # type: ignore[no-untyped-def]
                in_flight.set()
                await release.wait()
                await add_new(responses)

            uow.responses.add_new = slow_add_new
            return uow

    responses = Responses(uow=Slow(), clock=clock, linger=0)
    kept = _turn(responses, ALICE, "hi", "hello")
    await responses.keep(kept)
    await in_flight.wait()

    deleting = asyncio.create_task(responses.delete(kept.id, ALICE))
    await _settle()
    release.set()
    await deleting
    await _settle()  # the batch in flight has landed by now

    reader = Responses(uow=store.unit_of_work, clock=clock, sleep=_no_wait, linger=0)
    with pytest.raises(NotFoundError):
        await reader.get(kept.id, ALICE)
