"""Rate-limit counters held in this process: the default when no Redis is configured."""

from __future__ import annotations

from collections.abc import Sequence

from domain.rate_limits import WINDOW_SECONDS, Admission, Quota, decide, window_of
from ports.rate_limiter import RateLimiter

SWEEP_EVERY = float(WINDOW_SECONDS)
"""Seconds between sweeps for subjects nobody touched since their window ended."""


class _Subject:
    """One quota subject's counters: (requests, tokens) per window, and its calls in flight."""

    __slots__ = ("in_flight", "windows")

    def __init__(self) -> None:
        self.in_flight = 0
        self.windows: dict[int, list[int]] = {}

    def window(self, window: int) -> list[int]:
        counts = self.windows.get(window)
        if counts is None:
            self.drop_before(window)
            counts = self.windows[window] = [0, 0]
        return counts

    def drop_before(self, window: int) -> None:
        for old in [w for w in self.windows if w < window]:
            del self.windows[old]

    def idle(self, window: int) -> bool:
        self.drop_before(window)
        return self.in_flight == 0 and not self.windows


class InMemoryRateLimiter(RateLimiter):
    """Plain dicts; `acquire` and `release` run without an await, so each is atomic within the event loop
    and concurrent callers never exceed a limit. A subject's windows before the current one are dropped the
    next time it is touched, and a sweep once a minute forgets subjects with nothing left to count, so
    memory stays bounded by the subjects active in the last minute. Limits hold for this process only; a
    dead process takes its in-flight counts with it, so they never need to expire."""

    def __init__(self) -> None:
        self._subjects: dict[str, _Subject] = {}
        self._next_sweep = float("-inf")

    def describe(self) -> str:
        return "memory"

    @property
    def in_process(self) -> bool:
        return True

    async def acquire(self, quotas: Sequence[Quota], now: float) -> Admission:
        window = window_of(now)
        if now >= self._next_sweep:
            self._sweep(window, now)
        subjects = [self._subject(quota.subject) for quota in quotas]
        counts = [subject.window(window) for subject in subjects]
        admission = decide(
            quotas, [(c[0], c[1], s.in_flight) for s, c in zip(subjects, counts, strict=True)], now
        )
        if admission.admitted:
            for subject, count in zip(subjects, counts, strict=True):
                subject.in_flight += 1
                count[0] += 1
        return admission

    async def release(self, quotas: Sequence[Quota], tokens: int, now: float) -> None:
        window = window_of(now)
        for quota in quotas:
            subject = self._subject(quota.subject)
            subject.in_flight = max(0, subject.in_flight - 1)
            subject.window(window)[1] += tokens

    def _subject(self, name: str) -> _Subject:
        subject = self._subjects.get(name)
        if subject is None:
            subject = self._subjects[name] = _Subject()
        return subject

    def _sweep(self, window: int, now: float) -> None:
        for name in [name for name, subject in self._subjects.items() if subject.idle(window)]:
            del self._subjects[name]
        self._next_sweep = now + SWEEP_EVERY
