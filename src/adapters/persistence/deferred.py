"""A store opened after the server has started, so that a start never waits on the database driver's import,
the connection and the schema check; units of work wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import structlog

from domain.spend import DailyQuery, DailySpend, SpendLogQuery, SpendRecord
from ports.spend_ledger import SpendLedger
from ports.unit_of_work import StoreUnavailable, UnitOfWork

_log = structlog.get_logger("switchyard.database")


class Store(Protocol):
    def unit_of_work(self) -> UnitOfWork: ...

    def spend_ledger(self, shard: str) -> SpendLedger: ...

    def describe(self) -> str: ...


class DeferredStore:
    """Opens the store with `opener` when `open()` runs (in the background, retrying while the database
    cannot be reached); until then each unit of work waits up to `wait` seconds for it, then raises
    `StoreUnavailable`."""

    def __init__(
        self, opener: Callable[[], Awaitable[Store]], *, wait: float = 10.0, retry_every: float = 1.0
    ):
        self._opener = opener
        self._wait = wait
        self._retry_every = retry_every
        self._store: Store | None = None
        self._opened = asyncio.Event()
        self.error: str | None = None
        """Why the last attempt to open failed, while it has not succeeded."""

    @property
    def store(self) -> Store | None:
        return self._store

    def describe(self) -> str:
        if self._store is not None:
            return self._store.describe()
        return "unreachable" if self.error else "connecting"

    async def open(self) -> Store:
        """Opens the store, retrying while the database cannot be reached. Any other failure (a schema
        that cannot be migrated, say) is final: logged, and every waiting unit of work fails at once."""
        while self._store is None:
            try:
                self._store = await self._opener()
            except StoreUnavailable as exc:
                if self.error is None:
                    _log.error("database unreachable; retrying", error=str(exc))
                self.error = str(exc)
                await asyncio.sleep(self._retry_every)
            except Exception as exc:
                _log.exception("the database cannot be opened")
                self.error = f"the database cannot be opened: {exc}"
                self._opened.set()
                raise
        self.error = None
        self._opened.set()
        return self._store

    async def opened(self) -> Store:
        if self._store is not None:
            return self._store
        try:
            # Not asyncio.wait_for: on Python 3.11 a cancellation arriving as the store opens is lost,
            # and the caller (the spend writer at shutdown, say) runs on as if never cancelled.
            async with asyncio.timeout(self._wait):
                await self._opened.wait()
        except TimeoutError:
            raise StoreUnavailable(f"the database is not open yet ({self.describe()})") from None
        if self._store is None:
            raise StoreUnavailable(self.error or "the database cannot be opened")
        return self._store

    def unit_of_work(self) -> UnitOfWork:
        if self._store is not None:
            return self._store.unit_of_work()
        return _WaitingUnitOfWork(self)


class _WaitingUnitOfWork(UnitOfWork):
    """Stands in for the store's unit of work until the store is open, then hands everything to it."""

    def __init__(self, owner: DeferredStore) -> None:
        self._owner = owner
        self._inner: UnitOfWork | None = None

    async def __aenter__(self) -> _WaitingUnitOfWork:
        store = await self._owner.opened()
        inner = await store.unit_of_work().__aenter__()
        self._inner = inner
        for name in (
            "keys",
            "teams",
            "users",
            "organizations",
            "end_users",
            "budgets",
            "deployments",
            "audit",
            "responses",
        ):
            setattr(self, name, getattr(inner, name))
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._inner is not None:
            await self._inner.__aexit__(*exc_info)

    async def commit(self) -> None:
        assert self._inner is not None, "used outside `async with`"
        await self._inner.commit()

    async def rollback(self) -> None:
        if self._inner is not None:
            await self._inner.rollback()

    async def stamps(self) -> Mapping[str, int]:
        assert self._inner is not None, "used outside `async with`"
        return await self._inner.stamps()


class DeferredSpendLedger(SpendLedger):
    """The ledger of `shard` in a store opened later: each call waits for the store as a unit of work
    does (raising `StoreUnavailable` when it does not open in time), then goes to the store's ledger."""

    def __init__(self, deferred: DeferredStore, shard: str) -> None:
        self._deferred = deferred
        self._shard = shard
        self._inner: SpendLedger | None = None

    async def _ledger(self) -> SpendLedger:
        if self._inner is None:
            self._inner = (await self._deferred.opened()).spend_ledger(self._shard)
        return self._inner

    async def write(self, records: Sequence[SpendRecord]) -> int:
        return await (await self._ledger()).write(records)

    async def logs(self, query: SpendLogQuery) -> list[SpendRecord]:
        return await (await self._ledger()).logs(query)

    async def count(self, query: SpendLogQuery) -> int:
        return await (await self._ledger()).count(query)

    async def totals(self, subjects: Sequence[str]) -> Mapping[str, Decimal]:
        return await (await self._ledger()).totals(subjects)

    async def spend_since(self, subject: str, since: datetime) -> Decimal:
        return await (await self._ledger()).spend_since(subject, since)

    async def daily(self, query: DailyQuery) -> list[DailySpend]:
        return await (await self._ledger()).daily(query)

    async def reset(self, at: datetime) -> None:
        await (await self._ledger()).reset(at)
