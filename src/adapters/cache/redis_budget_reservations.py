"""Budget counters shared by a fleet through Redis: one script per reservation or settle, keys that expire."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.budgets import BudgetLine, Standing, Window
from ports.budget_reservations import BudgetReservations, BudgetsUnavailable, Reservation

T = TypeVar("T")

TIMEOUT = 0.25
"""Seconds one call may take, waiting for a pooled connection included, before it is BudgetsUnavailable."""
CLEAR_TIMEOUT = 10.0
"""Seconds `clear` may take: it scans the whole prefix, and only an administrator waits for it."""
WINDOW_GRACE = 86_400
"""Seconds a window's keys outlive its end: late settles of calls that began in it still land."""
IDLE_TTL = 7 * 86_400
"""Seconds an all-time counter's keys live after their last write; then the caller seeds them again."""
LAPSE_GRACE = 86_400
"""Seconds after a hold expired (stopped counting) during which its settle still adds the call's cost."""
UNIT = 10**12
"""Picodollars per dollar: money in Redis is integers, as Lua has no decimals (see the key layout)."""

# Keys per budget window, all under one hash tag, because one call's lines (key, user, team, ...) are
# charged by one script, which a cluster runs only on keys of one slot:
#   <prefix>{budgets}:c:<window start>:<subject>  hash: sd, sp (spend), rd, rp (open reservations),
#                                                 h:<hold> "<dollars>:<picos>" (each open hold),
#                                                 x:<hold> 1 (a hold that expired, still to be settled)
#   <prefix>{budgets}:e:<window start>:<subject>  sorted set: h:<hold> scored by its expiry, x:<hold> by
#                                                 the end of its lapse grace
#
# Money is a pair of integers, whole dollars (`..d`) and picodollars (`..p`, 0 to 10^12 - 1): exact at
# 10^-12 USD, where prices per token need it, and (kept below 2^53 by Lua's doubles) up to $9 * 10^15, where
# a single 64-bit count of picodollars would overflow at $9.2 million. The running total of reservations
# (rd, rp) keeps a reservation O(1) however many calls are in flight; expired holds leave it when a script
# next touches the window, and stay as x:<hold> for LAPSE_GRACE so that a call that ran past its ttl still
# adds its cost when it settles. The spend fields exist once seeded: their absence is "not known yet", and
# nothing but `seed` creates them, so a settle into a forgotten window never passes for a seeded one.

# Numbers handed to redis.call are formatted by hand (int, %.17g), as Lua's own tostring keeps 14 digits;
# `now` stays the caller's string for the same reason.
_LIB = """
local P = 1000000000000
local function int(x) return string.format('%d', x) end
local function pair(v)
  local d, p = string.match(v, '^(%-?%d+):(%d+)$')
  return tonumber(d), tonumber(p)
end
local function norm(d, p)
  local carry = math.floor(p / P)
  return d + carry, p - carry * P
end
local function add(c, f, d, p)
  local carry = math.floor(redis.call('HINCRBY', c, f .. 'p', int(p)) / P)
  if carry ~= 0 then redis.call('HINCRBY', c, f .. 'p', int(-carry * P)) end
  if d + carry ~= 0 then redis.call('HINCRBY', c, f .. 'd', int(d + carry)) end
end
local function lapse(c, e, now, grace)
  local due = redis.call('ZRANGEBYSCORE', e, '-inf', now, 'WITHSCORES')
  for k = 1, #due, 2 do
    local m, lapse_end = due[k], tonumber(due[k + 1]) + grace
    redis.call('ZREM', e, m)
    if string.sub(m, 1, 2) == 'x:' then
      redis.call('HDEL', c, m)
    else
      local v = redis.call('HGET', c, m)
      if v then
        local d, p = pair(v)
        add(c, 'r', -d, -p)
        redis.call('HDEL', c, m)
      end
      if lapse_end > tonumber(now) then
        local x = 'x:' .. string.sub(m, 3)
        redis.call('HSET', c, x, 1)
        redis.call('ZADD', e, string.format('%.17g', lapse_end), x)
      end
    end
  end
end
"""

_RESERVE = (
    _LIB
    + """
local now, grace, field, expires = ARGV[1], tonumber(ARGV[2]), 'h:' .. ARGV[3], ARGV[4]
local ad, ap = tonumber(ARGV[5]), tonumber(ARGV[6])
local unseeded = {-1}
for i = 1, #KEYS / 2 do
  if redis.call('HEXISTS', KEYS[2 * i - 1], 'sd') == 0 then unseeded[#unseeded + 1] = i end
end
if #unseeded > 1 then return unseeded end
local out = {0}
for i = 1, #KEYS / 2 do
  local c, e, a = KEYS[2 * i - 1], KEYS[2 * i], 4 + 3 * i
  lapse(c, e, now, grace)
  local v = redis.call('HMGET', c, 'sd', 'sp', 'rd', 'rp')
  local sd, sp, rd, rp = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0, tonumber(v[4]) or 0
  local ld, lp = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  -- Exact: the dollars' difference is an integer below 2^53, the picos' one below 2 * 10^12, and where
  -- their sum is too large for a double to hold exactly the dollars alone decide its sign.
  if out[1] == 0 and ld and (ld - sd - rd) * P + (lp - sp - rp) <= 0 then out[1] = i end
  out[#out + 1], out[#out + 2], out[#out + 3], out[#out + 4] = sd, sp, rd, rp
end
if out[1] ~= 0 then return out end
for i = 1, #KEYS / 2 do
  local c, e, ttl = KEYS[2 * i - 1], KEYS[2 * i], ARGV[6 + 3 * i]
  local old = redis.call('HGET', c, field)
  if old then
    local d, p = pair(old)
    add(c, 'r', -d, -p)
  end
  redis.call('HSET', c, field, ARGV[5] .. ':' .. ARGV[6])
  add(c, 'r', ad, ap)
  redis.call('ZADD', e, expires, field)
  redis.call('EXPIRE', c, ttl)
  redis.call('EXPIRE', e, ttl)
end
return out
"""
)

_SETTLE = (
    _LIB
    + """
local now, grace, hold = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local cd, cp = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 1, #KEYS / 2 do
  local c, e = KEYS[2 * i - 1], KEYS[2 * i]
  lapse(c, e, now, grace)
  local live, lapsed = 'h:' .. hold, 'x:' .. hold
  local v, settled = redis.call('HGET', c, live), false
  if v then
    local d, p = pair(v)
    add(c, 'r', -d, -p)
    redis.call('HDEL', c, live)
    redis.call('ZREM', e, live)
    settled = true
  elseif redis.call('HDEL', c, lapsed) == 1 then
    redis.call('ZREM', e, lapsed)
    settled = true
  end
  if settled then
    add(c, 's', cd, cp)
    redis.call('EXPIRE', c, ARGV[5 + i])
    redis.call('EXPIRE', e, ARGV[5 + i])
  end
end
return 0
"""
)

_SEED = """
if redis.call('HSETNX', KEYS[1], 'sd', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'sp', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_STANDINGS = (
    _LIB
    + """
local now, out = ARGV[1], {}
for i = 1, #KEYS / 2 do
  local c, e = KEYS[2 * i - 1], KEYS[2 * i]
  local v = redis.call('HMGET', c, 'sd', 'sp', 'rd', 'rp')
  local rd, rp = tonumber(v[3]) or 0, tonumber(v[4]) or 0
  -- Read only: holds past their expiry are left out of the total here, and out of Redis by the next write.
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', e, '-inf', now)) do
    local h = string.sub(m, 1, 2) == 'h:' and redis.call('HGET', c, m)
    if h then
      local d, p = pair(h)
      rd, rp = rd - d, rp - p
    end
  end
  rd, rp = norm(rd, rp)
  out[#out + 1], out[#out + 2] = v[1] and 1 or 0, tonumber(v[1]) or 0
  out[#out + 1], out[#out + 2], out[#out + 3] = tonumber(v[2]) or 0, rd, rp
end
return out
"""
)


class RedisBudgetReservations(BudgetReservations):
    """Budget counters in Redis under `prefix`, shared by every instance that uses the same prefix.

    `reserve` and `settle` are one EVALSHA each (redis-py loads a script again on NOSCRIPT), atomic for the
    whole fleet; `reserve` applies `domain.budgets.refusing_line`'s rule in the script. Money is stored in
    picodollars, exact to 10^-12 USD: reservations round up to it, limits down, spend and costs to nearest.
    Counters of a window expire WINDOW_GRACE after its end, all-time ones IDLE_TTL after their last write.
    A settle after the hold expired still adds the cost, for LAPSE_GRACE; a settle of a hold not open
    (settled already, never reserved, or its window forgotten) adds nothing.

    It takes its client and never builds one (retries best none: a retried script could reserve twice).
    Each call is bounded by `timeout`, a wait for a pooled connection included; any Redis error or timeout
    raises `BudgetsUnavailable`, chained. A reserve whose reply was lost may have reserved: its hold
    counts until its ttl, or until a settle of the same hold."""

    def __init__(self, redis: Redis, prefix: str, *, timeout: float = TIMEOUT) -> None:
        self._redis = redis
        self._prefix = f"{prefix}{{budgets}}"
        self._pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + ":*"
        self._timeout = timeout
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)
        self._seed = redis.register_script(_SEED)
        self._standings = redis.register_script(_STANDINGS)

    def describe(self) -> str:
        return "redis"

    async def reserve(
        self, lines: Sequence[BudgetLine], amount: Decimal, *, hold: str, ttl: float, now: float
    ) -> Reservation:
        if not lines:
            return Reservation(admitted=True)
        held = _picos(amount, ROUND_CEILING)
        args: list[str | int] = [repr(now), LAPSE_GRACE, hold, repr(now + ttl), *divmod(held, UNIT)]
        for line in lines:
            limit = ("", "") if line.limit is None else divmod(_picos(line.limit, ROUND_FLOOR), UNIT)
            args += (*limit, _key_ttl(line.window, now))
        row = await self._call(self._reserve(keys=self._keys(lines), args=args), self._timeout)
        if row[0] < 0:
            return Reservation(admitted=False, unseeded=tuple(i - 1 for i in row[1:]))
        counts = [row[i : i + 4] for i in range(1, len(row), 4)]
        if row[0] > 0:
            standings = tuple(Standing(_money(sd, sp), _money(rd, rp)) for sd, sp, rd, rp in counts)
            return Reservation(admitted=False, standings=standings, refused=row[0] - 1)
        standings = tuple(Standing(_money(sd, sp), _money(rd, rp + held)) for sd, sp, rd, rp in counts)
        return Reservation(admitted=True, standings=standings)

    async def seed(self, line: BudgetLine, spent: Decimal, *, now: float) -> None:
        dollars, picos = divmod(_picos(spent, ROUND_HALF_EVEN), UNIT)
        args = [dollars, picos, _key_ttl(line.window, now)]
        await self._call(self._seed(keys=self._keys([line])[:1], args=args), self._timeout)

    async def settle(self, lines: Sequence[BudgetLine], cost: Decimal, *, hold: str, now: float) -> None:
        if not lines:
            return
        args: list[str | int] = [repr(now), LAPSE_GRACE, hold, *divmod(_picos(cost, ROUND_HALF_EVEN), UNIT)]
        args += [_key_ttl(line.window, now) for line in lines]
        await self._call(self._settle(keys=self._keys(lines), args=args), self._timeout)

    async def standings(self, lines: Sequence[BudgetLine], *, now: float) -> list[Standing | None]:
        if not lines:
            return []
        row = await self._call(self._standings(keys=self._keys(lines), args=[repr(now)]), self._timeout)
        return [
            Standing(_money(sd, sp), _money(rd, rp)) if seeded else None
            for seeded, sd, sp, rd, rp in (row[i : i + 5] for i in range(0, len(row), 5))
        ]

    async def clear(self) -> None:
        await self._call(self._clear(), max(self._timeout, CLEAR_TIMEOUT))

    async def _clear(self) -> None:
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=self._pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)

    def _keys(self, lines: Sequence[BudgetLine]) -> list[str]:
        keys: list[str] = []
        for line in lines:
            name = f"{float(line.window.start)!r}:{line.subject}"
            keys += (f"{self._prefix}:c:{name}", f"{self._prefix}:e:{name}")
        return keys

    async def _call(self, call: Awaitable[T], timeout: float) -> T:
        """The one place where Redis's errors become the port's."""
        try:
            async with asyncio.timeout(timeout):
                return await call
        except (RedisError, OSError) as exc:  # TimeoutError included
            raise BudgetsUnavailable(f"budget counters in Redis are unavailable: {exc!r}") from exc


def _key_ttl(window: Window, now: float) -> int:
    if window.end is None:
        return IDLE_TTL
    return max(1, math.ceil(window.end + WINDOW_GRACE - now))


def _picos(amount: Decimal, rounding: str) -> int:
    return int((amount * UNIT).to_integral_value(rounding=rounding))


def _money(dollars: int, picos: int) -> Decimal:
    return Decimal(dollars * UNIT + picos).scaleb(-12)
