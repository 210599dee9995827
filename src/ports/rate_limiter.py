"""The port that counts callers' requests, tokens and calls in flight against their rate limits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from domain.rate_limits import Admission, Quota


class RateLimiter(ABC):
    """Counters per quota subject, in fixed one-minute windows (`domain.rate_limits.window_of`) for
    requests and tokens and without window for calls in flight.

    Contract:
    - `acquire` is one round trip and atomic across every process sharing the counters: the call is
      admitted only if every quota has room (`domain.rate_limits.decide`), and then counted in all of
      them; refused, it counts nothing. Concurrent callers can never exceed a limit, not by one.
    - `release` is called once for every admitted call, however it ended: it frees the in-flight slot
      and adds the call's tokens to the window of the `now` it is given. In-flight counts never go below
      zero; those of a process that died mid-call expire after a bounded time the adapter states.
    - `now` is wall-clock seconds from the caller's Clock, so a fleet agrees on windows.
    - Window counters expire by themselves; nothing needs sweeping.
    - An unreachable backing store raises `LimiterUnavailable`; nothing of the store's library escapes.
    """

    def describe(self) -> str:
        """Where the counters live, for the readiness check (e.g. "memory", "redis")."""
        return type(self).__name__

    @property
    def in_process(self) -> bool:
        """Whether the counters live in this process: a call never waits on anything, so calls one after
        another cost less than concurrent ones (a task each)."""
        return False

    @abstractmethod
    async def acquire(self, quotas: Sequence[Quota], now: float) -> Admission:
        """Admits one call charged to every quota, or refuses it naming the first quota without room."""

    @abstractmethod
    async def release(self, quotas: Sequence[Quota], tokens: int, now: float) -> None:
        """Ends an admitted call: frees its in-flight slot in each quota and adds its tokens."""


class LimiterUnavailable(Exception):
    """The shared counters cannot be reached."""
