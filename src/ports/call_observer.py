"""The port through which every finished call is reported to what watches the gateway (the access log,
and the callbacks and metrics to come)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.spend import SpendRecord


class CallObserver(ABC):
    """Receives each call's record once, when the call has ended: answered, failed or refused, a stream
    at its end. It is called in the call's own task (context variables such as the request id are
    there to read) after the record is in the spend journal.

    Contract: `call_ended` returns at once, never raises and never blocks; an observer with slow work
    to do hands the record off (to a queue of its own) and does it beside the calls."""

    @abstractmethod
    def call_ended(self, record: SpendRecord) -> None: ...

    async def close(self) -> None:
        """At shutdown: delivers what the observer still holds, within a few seconds, then stops."""
        return None
