"""What the router knows of each deployment's load and health at a moment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeploymentLoad:
    """One deployment's shared state, as read in one round trip. Minute counters belong to the current
    wall-clock minute and read as zero once it is over."""

    in_flight: int = 0
    minute_requests: int = 0
    minute_tokens: int = 0
    minute_failures: int = 0
    cooldown_until: float | None = None
    """Wall-clock time (seconds) until which the deployment takes no calls; None when it is healthy."""
    latency: float | None = None
    """Moving average of whole-call latency in seconds; None before the first call."""
    first_token_latency: float | None = None
    """Moving average of the time to a stream's first chunk in seconds; None before the first stream."""

    def cooling_down(self, now: float) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now


IDLE = DeploymentLoad()


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one finished call adds to its deployment's state."""

    tokens: int = 0
    latency: float | None = None
    first_token_latency: float | None = None
    failed: bool = False
