"""The port for time."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Clock(ABC):
    """Wall time for timestamps, a monotonic clock for durations. Both in seconds."""

    @abstractmethod
    def now(self) -> float: ...

    @abstractmethod
    def monotonic(self) -> float: ...
