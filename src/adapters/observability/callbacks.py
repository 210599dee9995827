"""Callbacks: each finished call's record handed to code of the operator's own (a class named by its
dotted path in `litellm_settings.callbacks`), beside the calls, never in their way.

The public contract, as the README documents it: a class constructed with no arguments, with
`async def on_success(self, record)` and `async def on_failure(self, record)`, where `record` is the
call's spend record as a plain dict (`record_dict`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import structlog

from domain.errors import ConfigurationError
from domain.spend import CallStatus, SpendRecord
from ports.call_observer import CallObserver

_log = structlog.get_logger("switchyard.callbacks")
QUEUE_SIZE = 10_000
"""Records a callback may fall behind by before new ones are dropped (and counted)."""

Deliver = Callable[[dict[str, Any], bool], Awaitable[None]]
"""Hands one record (as a plain dict) to a callback; the flag says whether the call succeeded."""


def record_dict(record: SpendRecord) -> dict[str, Any]:
    """The spend record as plain JSON-ready data: its fields by name (`request_id`, `call_type`,
    `started_at` and `ended_at` as ISO text, `model_group`, `caller` {key_hash, key_alias, key_name,
    user_id, team_id, organization_id, end_user}, `deployment_id`, `provider`, `upstream_model`,
    `usage` {prompt_tokens, completion_tokens, cached_tokens, cache_creation_tokens, reasoning_tokens},
    `cost`, `input_cost` and `output_cost` as decimal text or null, `estimated`, `status` ("success" or
    "failure"), `error_type`, `status_code`, `retries`, `fallbacks`, `time_to_first_token` (seconds),
    `cache_hit`, `tags`, `metadata`, and `messages` and `response`: the prompt and reply text, null unless
    `log_prompts` is on)."""
    return _plain(dataclasses.asdict(record))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


class QueuedCallback(CallObserver):
    """One callback behind a bounded queue and a worker of its own: `call_ended` only enqueues. A slow
    callback lets its queue fill (then records are dropped and counted); one that fails is logged once
    per outage (again once it has recovered and fails anew), and the calls never notice."""

    def __init__(self, name: str, deliver: Deliver, *, queue_size: int = QUEUE_SIZE) -> None:
        self.name = name
        self._deliver = deliver
        self._queue: asyncio.Queue[tuple[dict[str, Any], bool]] | None = None
        self._queue_size = queue_size
        self._worker: asyncio.Task[None] | None = None
        self.dropped = 0
        self.failed = 0
        self._failing = False

    def call_ended(self, record: SpendRecord) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue(self._queue_size)
        try:
            self._queue.put_nowait((record_dict(record), record.status is CallStatus.SUCCESS))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    @property
    def backlog(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def _work(self) -> None:
        queue = self._queue
        assert queue is not None
        while not queue.empty():
            record, succeeded = queue.get_nowait()
            try:
                await self._deliver(record, succeeded)
            except Exception as exc:
                self.failed += 1
                if not self._failing:
                    _log.warning("callback failed; records go on being offered", callback=self.name,
                                 error=repr(exc))  # fmt: skip
                self._failing = True
            else:
                if self._failing:
                    _log.info("callback recovered", callback=self.name, failed=self.failed)
                self._failing = False

    async def close(self, timeout: float = 5.0) -> None:
        """Gives the worker `timeout` seconds to deliver what is queued, then stops it."""
        worker = self._worker
        if worker is None or worker.done():
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(worker), timeout)
        worker.cancel()
        with contextlib.suppress(BaseException):
            await worker


def custom_callback(path: str, where: str) -> QueuedCallback:
    """The operator's class at dotted `path`, constructed with no arguments, behind its own queue; a
    path that does not import, or a class without the two methods, stops startup naming `where`."""
    module_name, _, class_name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        instance = cls()
    except Exception as exc:
        raise ConfigurationError(where, f"cannot load callback {path!r}: {exc!r}") from None
    success, failure = getattr(instance, "on_success", None), getattr(instance, "on_failure", None)
    if not (callable(success) and callable(failure)):
        raise ConfigurationError(where, f"callback {path!r} needs on_success(record) and on_failure(record)")

    async def deliver(record: dict[str, Any], succeeded: bool) -> None:
        await (success if succeeded else failure)(record)

    return QueuedCallback(path, deliver)
