"""Failed console sign-ins counted per client address, through the rate limiter the API's limits use, so
that guessing passwords or keys is slow and the count holds for the whole fleet."""

from __future__ import annotations

from domain.errors import RateLimitError
from domain.frozen import frozen
from domain.rate_limits import Quota
from ports.clock import Clock
from ports.rate_limiter import RateLimiter

FAILURES_PER_MINUTE = 10


@frozen
class SignInAttempt:
    """One admitted attempt; `ended` must be called once, saying whether it failed."""

    _limiter: RateLimiter
    _clock: Clock
    _quota: Quota

    async def ended(self, *, failed: bool) -> None:
        # A failure counts as one "token" of the window: the limiter then refuses the next attempt
        # once FAILURES_PER_MINUTE of them fell in the current minute, while successes count nothing.
        await self._limiter.release((self._quota,), 1 if failed else 0, self._clock.now())


class SignInThrottle:
    def __init__(self, *, limiter: RateLimiter, clock: Clock) -> None:
        self._limiter = limiter
        self._clock = clock

    async def attempt(self, client: str) -> SignInAttempt:
        """An attempt from `client` (its IP address): 429 when it failed FAILURES_PER_MINUTE times in
        the current minute, saying when to try again."""
        quota = Quota(f"console-sign-in:{client}", "failed sign-ins", tpm=FAILURES_PER_MINUTE)
        admission = await self._limiter.acquire((quota,), self._clock.now())
        if not admission.admitted:
            wait = max(1, round(admission.retry_after()))
            raise RateLimitError(
                f"Too many failed sign-ins from your address; try again in {wait} seconds.",
                retry_after=admission.retry_after(),
            )
        return SignInAttempt(self._limiter, self._clock, quota)
