"""The Responses API's state: responses kept for `previous_response_id`, retrieval and deletion, and
calls run in the background.

A response is served by the completions use case like any chat call; this keeps what it answered. What a
response holds is the wire format's (items and the response object, see `domain.responses`): the format
adapter builds and reads them, this decides who may see them, for how long, and what a background call's
state is.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from domain.access import Principal
from domain.errors import BadRequestError, NotFoundError
from domain.responses import Item, ResponseOwner, ResponseStatus, StoredResponse, conversation
from ports.clock import Clock
from ports.unit_of_work import UnitOfWork

WRITE_BATCH = 64
"""Responses written in one statement at most."""
WRITE_LINGER = 0.05
"""Seconds the writer lets kept responses gather before it writes them (fewer than a batch)."""
WRITE_WAIT = 0.25
"""Seconds a lookup that found nothing waits to look once more: another instance may have answered the
response a moment ago and not written it yet (it lingers, then writes)."""

Work = Callable[[StoredResponse], Awaitable[StoredResponse]]
"""A background call: given the queued record, runs the call and returns the record as it ended."""


class Responses:
    """Stored responses, readable only by the key (or a key of the team) that created them, until their
    retention ends; and the background calls of this instance."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        retention: timedelta = timedelta(days=30),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        linger: float = WRITE_LINGER,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention
        self._sleep = sleep
        self._linger = linger
        self._running: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, StoredResponse] = {}
        """Kept but not yet written: readable here at once, written by `_write_pending`."""
        self._writer: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()

    @staticmethod
    def new_id() -> str:
        """A response id in OpenAI's shape (`resp_` and 48 hex digits)."""
        return "resp_" + secrets.token_hex(24)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def record(
        self,
        *,
        id: str,
        principal: Principal,
        model: str,
        input_items: tuple[Item, ...],
        body: Item,
        previous_response_id: str | None = None,
        deployment_id: str | None = None,
        native: bool = False,
    ) -> StoredResponse:
        """The record of a response `principal` is being answered, kept for the retention from now; its
        status is the body's."""
        now = self.now()
        return StoredResponse(
            id=id,
            owner=ResponseOwner.of(principal),
            created_at=now,
            expires_at=now + self._retention,
            status=ResponseStatus(body.get("status") or ResponseStatus.COMPLETED),
            model=model,
            input_items=input_items,
            body=body,
            previous_response_id=previous_response_id,
            deployment_id=deployment_id,
            native=native,
        )

    async def thread(self, previous_response_id: str | None, principal: Principal) -> tuple[Item, ...]:
        """The conversation `previous_response_id` ends (its inputs and outputs and those of its own
        predecessors, oldest first); nothing without one. A response the caller may not read, or that
        has expired, is not found."""
        if previous_response_id is None:
            return ()
        chain = await self._chain(previous_response_id)
        if not chain:
            # Kept by another instance a moment ago, and perhaps not written yet.
            await self._sleep(WRITE_WAIT)
            chain = await self._chain(previous_response_id)
        now = self.now()
        last = chain[-1] if chain else None
        if last is None or last.expired(now) or not last.owner.admits(principal):
            raise NotFoundError(
                f"Previous response with id '{previous_response_id}' not found.", param="previous_response_id"
            )
        if not last.status.finished:
            raise BadRequestError(
                f"Previous response with id '{previous_response_id}' is still {last.status.value}; wait for "
                "it to finish.",
                param="previous_response_id",
            )
        # An ancestor past its retention ends the conversation there, as if it were gone.
        expired = [index for index, response in enumerate(chain) if response.expired(now)]
        return conversation(chain[expired[-1] + 1 :] if expired else chain)

    async def keep(self, response: StoredResponse) -> None:
        """Keeps `response`: readable here at once, written to the database beside the requests (many
        at a time, when many are answered at once), so that answering never waits for the write."""
        self._pending[response.id] = response
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())

    async def _write_pending(self) -> None:
        delay = 0.05
        while self._pending:
            if len(self._pending) < WRITE_BATCH and self._linger:
                # A write costs about as much for one response as for dozens: let a batch gather.
                await self._sleep(self._linger)
            # Under the lock: a delete waits for a batch in flight, so what it deletes stays deleted.
            async with self._writing:
                batch = list(self._pending.values())[:WRITE_BATCH]
                try:
                    async with self._uow() as uow:
                        await uow.responses.add_new(batch)
                        await uow.commit()
                except Exception:
                    written = False
                else:
                    written = True
                    for response in batch:
                        if self._pending.get(response.id) is response:
                            del self._pending[response.id]
            if not written:
                # The database is away: what is pending stays readable here and is written once it
                # is back (a gateway stopping meanwhile loses it: `drain` tries once more).
                await self._sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.05

    async def _chain(self, id: str) -> list[StoredResponse]:
        """`id` and its ancestors, oldest first, those still pending included."""
        newest: list[StoredResponse] = []
        current: str | None = id
        while current is not None and current in self._pending:
            newest.append(self._pending[current])
            current = newest[-1].previous_response_id
        older: list[StoredResponse] = []
        if current is not None:
            async with self._uow() as uow:
                older = await uow.responses.chain(current)
            if older and older[-1].id != current:
                older = []
            if not older and newest:
                return list(reversed(newest))  # an ancestor is gone: the chain starts after it
        return [*older, *reversed(newest)]

    async def _find(self, id: str) -> StoredResponse | None:
        found = self._pending.get(id)
        if found is None:
            async with self._uow() as uow:
                found = await uow.responses.get(id)
        return found

    async def get(self, id: str, principal: Principal) -> StoredResponse:
        found = await self._find(id)
        if found is None:
            await self._sleep(WRITE_WAIT)  # kept by another instance a moment ago: give it its write
            found = await self._find(id)
        if found is None or found.expired(self.now()) or not found.owner.admits(principal):
            raise NotFoundError(f"Response with id '{id}' not found.", param="response_id")
        return found

    async def delete(self, id: str, principal: Principal) -> None:
        found = await self.get(id, principal)
        task = self._running.pop(found.id, None)
        if task is not None:
            task.cancel()
        async with self._writing:
            self._pending.pop(found.id, None)
            async with self._uow() as uow:
                await uow.responses.delete(found.id)
                await uow.commit()

    async def start(self, queued: StoredResponse, work: Work) -> None:
        """Keeps `queued` (a background call's record, status queued) and runs `work` beside the
        request; its result replaces the record unless the call was cancelled meanwhile (here or on
        another instance). The record is written before this returns: any instance may be asked how the
        call stands."""
        async with self._uow() as uow:
            await uow.responses.add(queued)
            await uow.commit()
        task = asyncio.create_task(self._run(queued, work))
        self._running[queued.id] = task
        task.add_done_callback(lambda _: self._running.pop(queued.id, None))

    async def _run(self, queued: StoredResponse, work: Work) -> None:
        running = queued.with_status(ResponseStatus.IN_PROGRESS)
        if not await self._replace(running, only_if=ResponseStatus.QUEUED):
            return  # cancelled (or deleted) before it began
        try:
            ended = await work(running)
        except asyncio.CancelledError:
            # Cancelled here, deleted, or the gateway stopping: the record must not stay in progress.
            ended = running.with_status(ResponseStatus.CANCELLED)
            await self._replace(ended, only_if=ResponseStatus.IN_PROGRESS)
            raise
        await self._replace(ended, only_if=ResponseStatus.IN_PROGRESS)

    async def _replace(self, response: StoredResponse, *, only_if: ResponseStatus) -> bool:
        async with self._uow() as uow:
            changed = await uow.responses.replace(response, only_if=only_if)
            await uow.commit()
        return changed

    async def cancel(self, id: str, principal: Principal) -> StoredResponse:
        """Cancels a background call still queued or in progress; cancelling a cancelled one again
        answers it as it is."""
        for _ in range(3):
            found = await self.get(id, principal)
            if not found.background:
                raise BadRequestError(
                    "Only responses created with background set to true can be cancelled.",
                    param="response_id",
                )
            if found.status is ResponseStatus.CANCELLED:
                return found
            if found.status.finished:
                raise BadRequestError(
                    f"Cannot cancel a response with status {found.status.value}.", param="response_id"
                )
            cancelled = found.with_status(ResponseStatus.CANCELLED)
            if await self._replace(cancelled, only_if=found.status):
                task = self._running.pop(found.id, None)
                if task is not None:
                    task.cancel()
                return cancelled
            # It started (or finished) between the read and the write: read it again.
        return await self.get(id, principal)

    async def purge(self) -> int:
        """Deletes every response past its retention; how many."""
        now = self.now()
        expired = [id for id, response in self._pending.items() if response.expired(now)]
        for id in expired:
            del self._pending[id]
        async with self._uow() as uow:
            purged = await uow.responses.purge(now)
            await uow.commit()
        return purged + len(expired)

    async def drain(self) -> None:
        """At shutdown: background calls still running are cancelled (their records say so), and what
        is pending is written (one more try if the database is away)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        writer = self._writer
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(BaseException):
                await writer
        if self._pending:
            with contextlib.suppress(Exception):
                async with self._uow() as uow:
                    await uow.responses.add_new(list(self._pending.values()))
                    await uow.commit()
                self._pending.clear()
