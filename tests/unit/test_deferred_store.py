"""The database opened after the server starts: units of work wait for it, readiness tells."""

from __future__ import annotations

import asyncio

import pytest

from adapters.persistence.deferred import DeferredStore
from adapters.persistence.memory import InMemoryStore
from domain.identity import Team
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
