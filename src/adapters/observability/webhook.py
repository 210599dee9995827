"""The `webhook` callback: call records POSTed as JSON batches to `callback_settings.webhook.url`,
beside the calls, with retries while the receiver is away."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import orjson
import structlog

from adapters.observability.callbacks import record_dict
from domain.spend import SpendRecord
from ports.call_observer import CallObserver

_log = structlog.get_logger("switchyard.callbacks")
CAPACITY = 10_000
"""Records held for the receiver at most; past that, new ones are dropped (and counted)."""
BATCH_SIZE = 500
MAX_BACKOFF = 60.0


class WebhookCallback(CallObserver):
    """Every `flush_interval` seconds while records wait, POSTs them (a JSON array of records as
    `callbacks.record_dict` makes them, at most BATCH_SIZE a request) with `headers`. A batch the
    receiver did not take (no answer, or not a 2xx) is sent again after a backoff (1 s doubling to a
    minute); meanwhile records gather up to CAPACITY. An outage is logged once, its end once. The
    client is the webhook's own from here on: `close` closes it."""

    name = "webhook"

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        headers: Mapping[str, str] | None = None,
        flush_interval: float = 2.0,
        *,
        capacity: int = CAPACITY,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._url = url
        self._headers = {"content-type": "application/json", **(headers or {})}
        self._interval = flush_interval
        self._capacity = capacity
        self._sleep = sleep
        self._buffer: deque[dict[str, Any]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._failing = False
        self.dropped = 0
        self.failed = 0
        self.delivered = 0

    def call_ended(self, record: SpendRecord) -> None:
        if len(self._buffer) >= self._capacity:
            self.dropped += 1
            return
        self._buffer.append(record_dict(record))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    @property
    def backlog(self) -> int:
        return len(self._buffer)

    async def _work(self) -> None:
        while self._buffer:
            await self._sleep(self._interval)  # let a batch gather
            await self._flush()

    async def _flush(self) -> None:
        backoff = 1.0
        while self._buffer:
            batch = [self._buffer[index] for index in range(min(BATCH_SIZE, len(self._buffer)))]
            if await self._sent(batch):
                for _ in batch:
                    self._buffer.popleft()
                self.delivered += len(batch)
                backoff = 1.0
                continue
            await self._sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _sent(self, batch: list[dict[str, Any]]) -> bool:
        try:
            response = await self._client.post(self._url, content=orjson.dumps(batch), headers=self._headers)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            self.failed += 1
            if not self._failing:
                _log.warning("webhook unreachable; records are kept and sent again", error=repr(exc),
                             waiting=len(self._buffer))  # fmt: skip
            self._failing = True
            return False
        if self._failing:
            _log.info("webhook reachable again", waiting=len(self._buffer))
        self._failing = False
        return True

    async def close(self, timeout: float = 5.0) -> None:
        worker = self._worker
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(BaseException):
                await worker
        if self._buffer:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent_all(), timeout)
        await self._client.aclose()

    async def _sent_all(self) -> None:
        while self._buffer:
            batch = [self._buffer[index] for index in range(min(BATCH_SIZE, len(self._buffer)))]
            if not await self._sent(batch):
                return
            for _ in batch:
                self._buffer.popleft()
            self.delivered += len(batch)
