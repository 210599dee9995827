"""Router state shared by a fleet through Redis: one round trip per call, keys that expire by themselves."""

from __future__ import annotations

import asyncio
import itertools
import math
import uuid
from collections import deque
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.deployments import Limits
from domain.router_state import CallOutcome, CooldownReason, DeploymentLoad, FailureKind
from ports.router_state import RouterState, StateUnavailable

T = TypeVar("T")

LATENCY_ALPHA = 0.2
"""Weight of the newest sample in the latency moving averages."""
TIMEOUT = 0.25
"""Seconds one call may take, waiting for a pooled connection included, before it is StateUnavailable."""
IN_FLIGHT_TTL = 900.0
"""Seconds a call counts in flight at most, should its `finish` never arrive (its process died, or the reply
was lost); longer than the default 600 s call timeout, so that no live call stops counting."""
MINUTE_TTL = 120
"""Seconds a minute's counters outlive their last write: long enough to be read all through their minute."""
LATENCY_TTL = 86_400
"""Seconds the latency averages of a deployment nobody calls are kept: garbage collection, not policy."""
MAX_ORPHANS = 64
"""Calls per deployment whose fate is unknown that are remembered for removal; older ones just age out."""

# Keys per deployment, all under one hash tag so that each script touches one cluster slot:
#   <prefix>{<id>}:n        sorted set of the calls in flight: member <instance>:<n>, score the `now` of begin
#   <prefix>{<id>}:m:<min>  hash r (requests), t (tokens), f (failures) of that wall-clock minute
#   <prefix>{<id>}:c        string: the cooldown's `until`, then its reason's kind and status when it has
#                           one (`<until> <kind> <status>`), expiring at `until`
#   <prefix>{<id>}:l        hash l (latency EWMA), ft (first-token latency EWMA)
#
# Each call in flight is a member of its own, not a +1 on a shared counter: removing it is idempotent, so a
# finish (or the begin of a call refused by a lost reply) can be resent with the next call without ever
# counting twice, and a member older than IN_FLIGHT_TTL no longer counts, so a process that dies mid-call
# holds its slots for at most that long. (A counter with a TTL refreshed on each begin would leak forever
# on a deployment that keeps getting traffic.) The trade-off: a call longer than IN_FLIGHT_TTL stops
# counting before it ends.

_BEGIN = """
local calls, minute = KEYS[1], KEYS[2]
local rpm, tpm, max_parallel = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', calls, '-inf', '(' .. ARGV[6])
if #ARGV > 8 then redis.call('ZREM', calls, unpack(ARGV, 9)) end
if rpm >= 0 or tpm >= 0 then
  local used = redis.call('HMGET', minute, 'r', 't')
  if rpm >= 0 and (tonumber(used[1]) or 0) >= rpm then return 0 end
  if tpm >= 0 and (tonumber(used[2]) or 0) >= tpm then return 0 end
end
if max_parallel >= 0 and redis.call('ZCARD', calls) >= max_parallel then return 0 end
redis.call('ZADD', calls, ARGV[5], ARGV[4])
redis.call('EXPIRE', calls, ARGV[7])
redis.call('HINCRBY', minute, 'r', 1)
redis.call('EXPIRE', minute, ARGV[8])
return 1
"""

_FINISH = """
local calls, minute, latency = KEYS[1], KEYS[2], KEYS[3]
if #ARGV > 7 then redis.call('ZREM', calls, unpack(ARGV, 8)) end
local tokens, failed, failures = tonumber(ARGV[1]), ARGV[2] == '1', 0
if tokens > 0 then redis.call('HINCRBY', minute, 't', tokens) end
if failed then
  failures = redis.call('HINCRBY', minute, 'f', 1)
else
  failures = tonumber(redis.call('HGET', minute, 'f')) or 0
end
if tokens > 0 or failed then redis.call('EXPIRE', minute, ARGV[6]) end
local alpha = tonumber(ARGV[5])
local function average(field, sample)
  local old = tonumber(redis.call('HGET', latency, field))
  local new = old and old + alpha * (sample - old) or sample
  redis.call('HSET', latency, field, string.format('%.17g', new))
end
if ARGV[3] ~= '' then average('l', tonumber(ARGV[3])) end
if ARGV[4] ~= '' then average('ft', tonumber(ARGV[4])) end
if ARGV[3] ~= '' or ARGV[4] ~= '' then redis.call('EXPIRE', latency, ARGV[7]) end
return failures
"""

_SNAPSHOT = """
local out = {}
for i = 1, #KEYS, 4 do
  local used = redis.call('HMGET', KEYS[i + 1], 'r', 't', 'f')
  local averages = redis.call('HMGET', KEYS[i + 3], 'l', 'ft')
  local n = #out
  out[n + 1] = redis.call('ZCOUNT', KEYS[i], ARGV[1], '+inf')
  out[n + 2], out[n + 3], out[n + 4] = used[1], used[2], used[3]
  out[n + 5], out[n + 6], out[n + 7] = redis.call('GET', KEYS[i + 2]), averages[1], averages[2]
end
return out
"""


class RedisRouterState(RouterState):
    """Router state in Redis under `prefix`, shared by every instance that uses the same prefix.

    Each method is one round trip: `try_begin`, `finish` and `snapshot` one EVALSHA each (redis-py loads
    the script again on NOSCRIPT), `cool_down` one SET with expiry or DEL. It takes its client and never
    builds one: the client's socket timeouts, retries and pool are the composition root's. Each call is
    also bounded here by `timeout`, a wait for a pooled connection included; any Redis error or timeout
    raises `StateUnavailable`, chained. `in_flight_ttl` should exceed the longest call of any deployment."""

    def __init__(
        self,
        client: Redis,
        prefix: str,
        *,
        timeout: float = TIMEOUT,
        in_flight_ttl: float = IN_FLIGHT_TTL,
        latency_alpha: float = LATENCY_ALPHA,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._timeout = timeout
        self._in_flight_ttl = in_flight_ttl
        self._ttl = math.ceil(in_flight_ttl)
        self._alpha = repr(latency_alpha)
        self._begin = client.register_script(_BEGIN)
        self._finish = client.register_script(_FINISH)
        self._snapshot = client.register_script(_SNAPSHOT)
        self._instance = uuid.uuid4().hex[:12]
        self._numbers = itertools.count()
        self._calls: dict[str, list[str]] = {}
        """This instance's admitted calls in flight, per deployment."""
        self._orphans: dict[str, deque[str]] = {}
        """Calls whose begin or finish failed midway: maybe in flight in Redis, to be removed next time."""

    def describe(self) -> str:
        return "redis"

    async def snapshot(self, deployment_ids: Sequence[str], now: float) -> Mapping[str, DeploymentLoad]:
        ids = list(dict.fromkeys(deployment_ids))
        if not ids:
            return {}
        minute = int(now // 60)
        keys: list[str] = []
        for deployment_id in ids:
            tag = self._tag(deployment_id)
            keys += (f"{tag}:n", f"{tag}:m:{minute}", f"{tag}:c", f"{tag}:l")
        rows = await self._call(self._snapshot(keys, (repr(now - self._in_flight_ttl),)))
        return {deployment_id: _load(rows[i * 7 : i * 7 + 7], now) for i, deployment_id in enumerate(ids)}

    async def try_begin(self, deployment_id: str, limits: Limits, now: float) -> bool:
        call = f"{self._instance}:{next(self._numbers)}"
        orphans = self._orphans.pop(deployment_id, ())
        tag = self._tag(deployment_id)
        args = (
            _limit(limits.rpm),
            _limit(limits.tpm),
            _limit(limits.max_parallel_requests),
            call,
            repr(now),
            repr(now - self._in_flight_ttl),
            self._ttl,
            MINUTE_TTL,
            *orphans,
        )
        keys = (f"{tag}:n", f"{tag}:m:{int(now // 60)}")
        admitted = await self._call(self._begin(keys, args), deployment_id, (call, *orphans))
        if admitted:
            self._calls.setdefault(deployment_id, []).append(call)
        return bool(admitted)

    async def finish(self, deployment_id: str, outcome: CallOutcome, now: float) -> int:
        # Any of this instance's calls on the deployment will do: they are interchangeable.
        calls = self._calls.get(deployment_id)
        ended = (calls.pop(),) if calls else ()
        ended += tuple(self._orphans.pop(deployment_id, ()))
        tag = self._tag(deployment_id)
        args = (
            outcome.tokens,
            1 if outcome.failed else 0,
            "" if outcome.latency is None else repr(outcome.latency),
            "" if outcome.first_token_latency is None else repr(outcome.first_token_latency),
            self._alpha,
            MINUTE_TTL,
            LATENCY_TTL,
            *ended,
        )
        keys = (f"{tag}:n", f"{tag}:m:{int(now // 60)}", f"{tag}:l")
        return int(await self._call(self._finish(keys, args), deployment_id, ended))

    async def cool_down(
        self, deployment_id: str, until: float, now: float, reason: CooldownReason | None = None
    ) -> None:
        key = f"{self._tag(deployment_id)}:c"
        milliseconds = math.ceil((until - now) * 1000)
        if milliseconds > 0:
            value = repr(until) if reason is None else f"{until!r} {reason.kind} {reason.status_code}"
            await self._call(self._client.set(key, value, px=milliseconds))
        else:
            await self._call(self._client.delete(key))

    def _tag(self, deployment_id: str) -> str:
        return f"{self._prefix}{{{deployment_id}}}"

    async def _call(self, call: Awaitable[T], deployment_id: str = "", calls: Iterable[str] = ()) -> T:
        """The one place where Redis's errors become the port's. A round trip that fails may still have run,
        so the `calls` it would have added or removed become orphans, removed by the next one."""
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except BaseException as exc:
            if calls:
                self._orphans.setdefault(deployment_id, deque(maxlen=MAX_ORPHANS)).extend(calls)
            if isinstance(exc, RedisError | OSError):  # TimeoutError included
                raise StateUnavailable(f"router state in Redis is unavailable: {exc!r}") from exc
            raise


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def _number(raw: Any) -> int:
    return 0 if raw is None else int(raw)


def _seconds(raw: Any) -> float | None:
    return None if raw is None else float(raw)


def _cooldown(raw: Any, now: float) -> tuple[float | None, CooldownReason | None]:
    """The cooldown key's `until` and reason; none once `until` is past (the key can outlive it by the
    skew between this clock and Redis's)."""
    if raw is None:
        return None, None
    until, *why = (raw.decode() if isinstance(raw, bytes) else str(raw)).split()
    if float(until) <= now:
        return None, None
    return float(until), _reason(why)


def _reason(why: Sequence[str]) -> CooldownReason | None:
    """The stored kind and status; a kind this version does not know (written by a newer instance of a
    fleet being upgraded) reads as OTHER rather than failing the snapshot."""
    if len(why) != 2:
        return None
    kind = why[0] if why[0] in FailureKind.__members__.values() else FailureKind.OTHER
    return CooldownReason(FailureKind(kind), int(why[1]))


def _load(row: Sequence[Any], now: float) -> DeploymentLoad:
    in_flight, requests, tokens, failures, until, latency, first_token = row
    cooldown_until, cooldown_reason = _cooldown(until, now)
    return DeploymentLoad(
        in_flight=int(in_flight),
        minute_requests=_number(requests),
        minute_tokens=_number(tokens),
        minute_failures=_number(failures),
        cooldown_until=cooldown_until,
        cooldown_reason=cooldown_reason,
        latency=_seconds(latency),
        first_token_latency=_seconds(first_token),
    )
