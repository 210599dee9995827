"""Telemetry adapters."""

from __future__ import annotations

from domain.calls import CallRecord
from ports.telemetry import Telemetry


class NoopTelemetry(Telemetry):
    """Records nothing; the default until tracing and metrics are configured."""

    def record_call(self, record: CallRecord) -> None:
        return None
