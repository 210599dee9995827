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
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention
        self._running: dict[str, asyncio.Task[None]] = {}

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
        async with self._uow() as uow:
            chain = await uow.responses.chain(previous_response_id)
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
        async with self._uow() as uow:
            await uow.responses.add(response)
            await uow.commit()

    async def get(self, id: str, principal: Principal) -> StoredResponse:
        async with self._uow() as uow:
            found = await uow.responses.get(id)
        if found is None or found.expired(self.now()) or not found.owner.admits(principal):
            raise NotFoundError(f"Response with id '{id}' not found.", param="response_id")
        return found

    async def delete(self, id: str, principal: Principal) -> None:
        found = await self.get(id, principal)
        task = self._running.pop(found.id, None)
        if task is not None:
            task.cancel()
        async with self._uow() as uow:
            await uow.responses.delete(found.id)
            await uow.commit()

    async def start(self, queued: StoredResponse, work: Work) -> None:
        """Keeps `queued` (a background call's record, status queued) and runs `work` beside the
        request; its result replaces the record unless the call was cancelled meanwhile (here or on
        another instance)."""
        await self.keep(queued)
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
        found = await self.get(id, principal)
        if not found.background:
            raise BadRequestError(
                "Only responses created with background set to true can be cancelled.", param="response_id"
            )
        if found.status is ResponseStatus.CANCELLED:
            return found
        if found.status.finished:
            raise BadRequestError(
                f"Cannot cancel a response with status {found.status.value}.", param="response_id"
            )
        cancelled = found.with_status(ResponseStatus.CANCELLED)
        if not await self._replace(cancelled, only_if=found.status):
            # It finished, or started, meanwhile: answer what it is now.
            return await self.get(id, principal)
        task = self._running.pop(found.id, None)
        if task is not None:
            task.cancel()
        return cancelled

    async def purge(self) -> int:
        """Deletes every response past its retention; how many."""
        async with self._uow() as uow:
            purged = await uow.responses.purge(self.now())
            await uow.commit()
        return purged

    async def drain(self) -> None:
        """At shutdown: background calls still running are cancelled (their records say so)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
