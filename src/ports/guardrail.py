"""The port of one guardrail: a check of a request's or a reply's texts."""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.guardrails import Inspection, Verdict


class Guardrail(ABC):
    """Judges the texts of one inspection and answers a `Verdict`: allowed, masked (its `texts` the
    inspection's, rewritten, as many and in the same order) or blocked (with a reason that never quotes
    what it found).

    Contract: `check` may be called concurrently, for any mode the guardrail is configured for; it never
    changes the inspection. A guardrail that cannot decide (its service down, too slow, an answer it
    cannot read) raises `GuardrailUnavailable`; the runner then applies the guardrail's `on_error`
    (allow, or block). Any other exception is a bug and blocks the call as unavailable."""

    @abstractmethod
    async def check(self, inspection: Inspection) -> Verdict: ...

    async def close(self) -> None:
        """At shutdown: lets go of what it holds (an HTTP client)."""
        return None


class GuardrailUnavailable(Exception):
    """The guardrail could not decide; the message says why (never the text it was judging)."""
