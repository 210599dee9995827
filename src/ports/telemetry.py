"""The port through which the application reports what it did."""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.calls import CallRecord


class Telemetry(ABC):
    """Receives call records. Must not raise and must not block: implementations hand the record off
    (to a queue, an exporter) and return at once."""

    @abstractmethod
    def record_call(self, record: CallRecord) -> None: ...
