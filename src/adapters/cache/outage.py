"""When to leave a shared store (Redis) alone after it failed, and saying so once per outage."""

from __future__ import annotations

from typing import Any

RETRY_SHARED_AFTER = 5.0
"""Seconds to keep to local state after the shared store failed, before trying it again: an unreachable
store would otherwise cost every call its full timeout."""


class Outage:
    """The state of one shared store as its callers found it: in use, or lost until `retry_at`. The start
    of an outage is logged as a warning (`lost_message`), its end as info (`back_message`)."""

    __slots__ = ("_back", "_log", "_lost", "retry_at")

    def __init__(self, log: Any, lost_message: str, back_message: str) -> None:
        self._log = log
        self._lost = lost_message
        self._back = back_message
        self.retry_at: float | None = None

    @property
    def degraded(self) -> bool:
        return self.retry_at is not None

    def use_shared(self, now: float) -> bool:
        return self.retry_at is None or now >= self.retry_at

    def lost(self, now: float, exc: Exception) -> None:
        if self.retry_at is None:
            self._log.warning(self._lost, error=str(exc))
        self.retry_at = now + RETRY_SHARED_AFTER

    def recovered(self) -> None:
        if self.retry_at is not None:
            self._log.info(self._back)
            self.retry_at = None
