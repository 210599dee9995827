"""Rate-limit counters shared by a fleet through Redis: one script per call, keys that expire alone."""

from __future__ import annotations

import asyncio
import itertools
import math
import uuid
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.rate_limits import WINDOW_SECONDS, Admission, Quota, decide, window_of
from ports.rate_limiter import LimiterUnavailable, RateLimiter

T = TypeVar("T")

TIMEOUT = 0.25
"""Seconds one call may take, waiting for a pooled connection included, before it is LimiterUnavailable."""
IN_FLIGHT_TTL = 900.0
"""Seconds a call counts in flight at most, should its `release` never arrive (its process died, or the
reply was lost); longer than the default 600 s call timeout, so that no live call stops counting."""
WINDOW_TTL = 2 * WINDOW_SECONDS
"""Seconds a window's counters outlive their last write: long enough to be read all through their window."""
MAX_ORPHANS = 64
"""Calls per subject whose fate is unknown that are remembered for removal; older ones just age out."""
MAX_ORPHAN_SUBJECTS = 1024
"""Subjects with such calls that are remembered; the oldest are forgotten first (their calls age out)."""

# Keys, all under one hash tag, because one call's quotas (key, user, team, ...) are counted by one script,
# which a cluster runs only on keys of one slot:
#   <prefix>{limits}:f:<subject>           sorted set of the calls in flight: member <instance>:<n>, score
#                                          the `now` of acquire
#   <prefix>{limits}:w:<window>:<subject>  hash r (requests), t (tokens) of that one-minute window
#
# Each call in flight is a member of its own rather than a +1 on a counter: removing it is idempotent, so
# the calls of a round trip whose reply was lost can be removed with the next one without ever freeing a
# slot twice, release can never take a count below zero, and a member older than IN_FLIGHT_TTL no longer
# counts, so a dead process holds its slots for at most that long even on a subject that keeps getting
# traffic (a counter whose TTL each acquire refreshes would hold them forever there).

_ACQUIRE = """
local now, cutoff, call, flight_ttl, window_ttl = ARGV[1], '(' .. ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local out, admitted, a = {}, true, 6
for i = 1, #KEYS, 2 do
  local rpm, tpm, parallel = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local n = tonumber(ARGV[a + 3])
  if n > 0 then redis.call('ZREM', KEYS[i], unpack(ARGV, a + 4, a + 3 + n)) end
  a = a + 4 + n
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', cutoff)
  local used = redis.call('HMGET', KEYS[i + 1], 'r', 't')
  local r, t, f = tonumber(used[1]) or 0, tonumber(used[2]) or 0, redis.call('ZCARD', KEYS[i])
  local k = #out
  out[k + 1], out[k + 2], out[k + 3] = r, t, f
  if (parallel >= 0 and f >= parallel) or (rpm >= 0 and r >= rpm) or (tpm >= 0 and t >= tpm) then
    admitted = false
  end
end
if admitted then
  for i = 1, #KEYS, 2 do
    redis.call('ZADD', KEYS[i], now, call)
    redis.call('EXPIRE', KEYS[i], flight_ttl)
    redis.call('HINCRBY', KEYS[i + 1], 'r', 1)
    redis.call('EXPIRE', KEYS[i + 1], window_ttl)
  end
end
return out
"""

_RELEASE = """
local tokens, window_ttl, a = tonumber(ARGV[1]), ARGV[2], 3
for i = 1, #KEYS, 2 do
  local n = tonumber(ARGV[a])
  if n > 0 then redis.call('ZREM', KEYS[i], unpack(ARGV, a + 1, a + n)) end
  a = a + 1 + n
  if tokens > 0 then
    redis.call('HINCRBY', KEYS[i + 1], 't', tokens)
    redis.call('EXPIRE', KEYS[i + 1], window_ttl)
  end
end
return 0
"""


class RedisRateLimiter(RateLimiter):
    """Rate-limit counters in Redis under `prefix`, shared by every instance that uses the same prefix.

    `acquire` and `release` are one EVALSHA each (redis-py loads the script again on NOSCRIPT); the script
    applies the rule of `domain.rate_limits.decide` to every quota and counts the call in all of them only
    if all have room, atomically for the whole fleet. `acquire` then builds its Admission with `decide`
    from the counters the script read. A call counts in flight until released, or for `in_flight_ttl`
    (15 minutes by default) at most: the bound after which a dead process's slots free themselves. Window
    counters expire `WINDOW_TTL` after their last write.

    It takes its client and never builds one: socket timeouts, retries (best none: a retried script could
    count a call twice) and pool are the composition root's. Each call is also bounded here by `timeout`,
    a wait for a pooled connection included; any Redis error or timeout raises `LimiterUnavailable`,
    chained. A release that fails loses its tokens; its slots are freed by the next call."""

    def __init__(
        self,
        client: Redis,
        prefix: str,
        *,
        timeout: float = TIMEOUT,
        in_flight_ttl: float = IN_FLIGHT_TTL,
    ) -> None:
        self._prefix = f"{prefix}{{limits}}"
        self._timeout = timeout
        self._in_flight_ttl = in_flight_ttl
        self._ttl = math.ceil(in_flight_ttl)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._instance = uuid.uuid4().hex[:12]
        self._numbers = itertools.count()
        self._calls: dict[str, list[str]] = {}
        """This instance's admitted calls in flight, per subject; any of them will do for a release."""
        self._orphans: dict[str, deque[str]] = {}
        """Calls whose acquire or release failed midway: maybe in flight in Redis, to be removed next time."""

    def describe(self) -> str:
        return "redis"

    async def acquire(self, quotas: Sequence[Quota], now: float) -> Admission:
        if not quotas:
            return decide(quotas, (), now)
        call = f"{self._instance}:{next(self._numbers)}"
        window = window_of(now)
        keys: list[str] = []
        args: list[str | int] = [repr(now), repr(now - self._in_flight_ttl), call, self._ttl, WINDOW_TTL]
        orphans: dict[str, tuple[str, ...]] = {}
        for quota in quotas:
            orphans[quota.subject] = gone = tuple(self._orphans.pop(quota.subject, ()))
            keys += self._keys(quota.subject, window)
            args += (_limit(quota.rpm), _limit(quota.tpm), _limit(quota.max_parallel), len(gone), *gone)
        # On failure the call may have been counted, and the orphans not removed: all are orphans again.
        lost = {subject: (*gone, call) for subject, gone in orphans.items()}
        row = await self._call(self._acquire(keys, args), lost)
        counters = [(int(row[i]), int(row[i + 1]), int(row[i + 2])) for i in range(0, len(row), 3)]
        # The same rule on the same counters: admitted here exactly when the script counted the call.
        admission = decide(quotas, counters, now)
        if admission.admitted:
            for quota in quotas:
                self._calls.setdefault(quota.subject, []).append(call)
        return admission

    async def release(self, quotas: Sequence[Quota], tokens: int, now: float) -> None:
        if not quotas:
            return
        window = window_of(now)
        keys: list[str] = []
        args: list[str | int] = [max(tokens, 0), WINDOW_TTL]
        ended: dict[str, tuple[str, ...]] = {}
        for quota in quotas:
            gone = (*self._pop_call(quota.subject), *self._orphans.pop(quota.subject, ()))
            ended[quota.subject] = gone
            keys += self._keys(quota.subject, window)
            args += (len(gone), *gone)
        await self._call(self._release(keys, args), ended)

    def _keys(self, subject: str, window: int) -> tuple[str, str]:
        return f"{self._prefix}:f:{subject}", f"{self._prefix}:w:{window}:{subject}"

    def _pop_call(self, subject: str) -> tuple[str, ...]:
        calls = self._calls.get(subject)
        if not calls:
            return ()
        call = calls.pop()
        if not calls:
            del self._calls[subject]
        return (call,)

    async def _call(self, call: Awaitable[T], lost: dict[str, tuple[str, ...]]) -> T:
        """The one place where Redis's errors become the port's. A round trip that fails may still have run,
        so the calls it would have added or removed become orphans, removed by the next one."""
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except BaseException as exc:
            self._remember(lost)
            if isinstance(exc, RedisError | OSError):  # TimeoutError included
                raise LimiterUnavailable(f"rate-limit counters in Redis are unavailable: {exc!r}") from exc
            raise

    def _remember(self, lost: dict[str, tuple[str, ...]]) -> None:
        for subject, calls in lost.items():
            if not calls:
                continue
            if subject not in self._orphans and len(self._orphans) >= MAX_ORPHAN_SUBJECTS:
                del self._orphans[next(iter(self._orphans))]
            self._orphans.setdefault(subject, deque(maxlen=MAX_ORPHANS)).extend(calls)


def _limit(value: int | None) -> int:
    return -1 if value is None else value
