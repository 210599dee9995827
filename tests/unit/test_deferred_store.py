"""The database opened after the server starts: units of work and spend ledgers wait for it, readiness
tells."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters.persistence.deferred import DeferredSpendLedger, DeferredStore
from adapters.persistence.memory import InMemoryStore
from domain.identity import Team
from domain.spend import Caller, SpendRecord
from ports.unit_of_work import StoreUnavailable


async def test_a_unit_of_work_started_before_the_store_opens_waits_for_it() -> None:
    store = InMemoryStore()
    gate = asyncio.Event()

    async def opener() -> InMemoryStore:
        await gate.wait()
        return store

    deferred = DeferredStore(opener)
    assert deferred.describe() == "connecting"

    async def write() -> None:
        async with deferred.unit_of_work() as uow:
            await uow.teams.add(Team("t"))
            await uow.commit()

    writing = asyncio.create_task(write())
    opening = asyncio.create_task(deferred.open())
    await asyncio.sleep(0)
    assert not writing.done()
    gate.set()
    await asyncio.gather(writing, opening)
    assert deferred.describe() == "memory"
    async with store.unit_of_work() as uow:
        assert await uow.teams.get("t") == Team("t")


async def test_a_store_that_does_not_open_in_time_is_unavailable() -> None:
    async def never() -> InMemoryStore:
        await asyncio.Event().wait()
        raise AssertionError

    deferred = DeferredStore(never, wait=0.01)
    with pytest.raises(StoreUnavailable, match="connecting"):
        async with deferred.unit_of_work():
            pass


async def test_an_unreachable_database_is_retried_until_it_answers() -> None:
    attempts = []

    async def flaky() -> InMemoryStore:
        attempts.append(1)
        if len(attempts) < 3:
            raise StoreUnavailable("connection refused")
        return InMemoryStore()

    deferred = DeferredStore(flaky, retry_every=0.001)
    opening = asyncio.create_task(deferred.open())
    while len(attempts) < 2:
        await asyncio.sleep(0.001)
    assert deferred.describe() == "unreachable" and deferred.error == "connection refused"
    await opening
    assert len(attempts) == 3 and deferred.describe() == "memory" and deferred.error is None


async def test_a_store_that_cannot_be_opened_at_all_fails_waiting_units_of_work_at_once() -> None:
    async def broken() -> InMemoryStore:
        raise RuntimeError("migration 0002 failed")

    deferred = DeferredStore(broken, wait=30)
    waiting = asyncio.create_task(deferred.opened())
    with pytest.raises(RuntimeError):
        await deferred.open()
    with pytest.raises(StoreUnavailable, match="migration 0002 failed"):
        await waiting
    assert deferred.describe() == "unreachable"


AT = datetime(2025, 1, 2, tzinfo=UTC)
CALL = SpendRecord("r1", "chat", AT, AT, "gpt-4o", Caller(team_id="t1"), cost=Decimal("0.1"))


async def test_a_spend_ledger_used_before_the_store_opens_waits_then_writes_to_it() -> None:
    store = InMemoryStore()
    gate = asyncio.Event()

    async def opener() -> InMemoryStore:
        await gate.wait()
        return store

    deferred = DeferredStore(opener)
    ledger = DeferredSpendLedger(deferred, "a")
    writing = asyncio.create_task(ledger.write([CALL]))
    opening = asyncio.create_task(deferred.open())
    await asyncio.sleep(0)
    assert not writing.done()
    gate.set()

    assert (await asyncio.gather(writing, opening))[0] == 1
    assert await store.spend_ledger("a").totals(["team:t1"]) == {"team:t1": Decimal("0.1")}
    assert await ledger.spend_since("team:t1", AT) == Decimal("0.1")


async def test_a_spend_ledger_whose_store_never_opens_raises_store_unavailable() -> None:
    async def never() -> InMemoryStore:
        await asyncio.Event().wait()
        raise AssertionError

    ledger = DeferredSpendLedger(DeferredStore(never, wait=0.01), "a")

    with pytest.raises(StoreUnavailable):
        await ledger.write([CALL])
    with pytest.raises(StoreUnavailable):
        await ledger.totals(["team:t1"])


async def test_a_waiter_cancelled_as_the_store_opens_stays_cancelled() -> None:
    # The spend writer waits here; stopped just as the database opened, it must stop, not write on.
    store = InMemoryStore()

    async def opener() -> InMemoryStore:
        return store

    deferred = DeferredStore(opener)
    waiter = asyncio.create_task(deferred.opened())
    await asyncio.sleep(0)  # waiting for the store
    await deferred.open()  # wakes the waiter...
    waiter.cancel()  # ...and the waiter is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await waiter
